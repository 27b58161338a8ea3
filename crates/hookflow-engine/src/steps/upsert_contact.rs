//! `upsert_contact`: finds the contact by unique key, mobile or email, or creates it, and applies
//! the mapped fields. The connector's field mapping is the same step, run before the others.

use super::kind::{Source, StepKind};
use super::{contact, StepErrors, COMMON_KEYS};
pub(crate) use crate::contacts::ContactSpec;
use crate::run::{Flow, Here, Live, Run};
use crate::store::{StepRecord, StoreError};

impl StepKind for ContactSpec {
    const TYPES: &'static [&'static str] = &["upsert_contact"];

    fn compile(source: &Source<'_>, e: &mut StepErrors<'_>) -> Option<Self> {
        match ContactSpec::compile(source.obj, "", COMMON_KEYS, false, source.templates) {
            Ok(spec) if spec.mobile.is_some() || spec.email.is_some() || spec.unique_key.is_some() => Some(spec),
            Ok(_) => {
                e.at(
                    "mobile",
                    "`upsert_contact` needs a mobile, an email or a unique_key to find the contact by",
                );
                None
            }
            Err(list) => {
                for err in list {
                    e.at(&err.path, err.message);
                }
                None
            }
        }
    }

    async fn run(&self, run: &mut Run<'_>, _: Live<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        match resolve(self, run, here, rec).await? {
            Ok((find, changes, rec)) => contact::change(run, here, rec, contact::Target::Find(find), changes).await,
            Err(flow) => Ok(flow),
        }
    }

    async fn simulate(&self, run: &mut Run<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        match resolve(self, run, here, rec).await? {
            Ok((find, _, rec)) => contact::simulate_change(run, here, rec, contact::Target::Find(find)).await,
            Err(flow) => Ok(flow),
        }
    }
}

type Resolved = Result<(crate::store::ContactMatch, crate::store::ContactChanges, StepRecord), Flow>;

/// Renders the spec over the context; `Err` is the step failed.
async fn resolve(
    spec: &ContactSpec,
    run: &mut Run<'_>,
    here: Here<'_>,
    mut rec: StepRecord,
) -> Result<Resolved, StoreError> {
    let resolved = crate::contacts::resolve(
        spec,
        run.templates,
        &run.ctx,
        run.stores.contacts,
        &run.workspace,
        run.default_country.as_deref(),
    )
    .await?;
    let resolved = match resolved {
        Ok(r) => r,
        Err(message) => return Ok(Err(run.fail(here, rec, message))),
    };
    rec.input = resolved.input;
    rec.missing = resolved.missing;
    let find = resolved.find;
    if find.mobile.is_none() && find.email.is_none() && find.unique_key.is_none() {
        let message = "the event gave no mobile, email or unique key to find or create the contact by";
        return Ok(Err(run.fail(here, rec, message.to_owned())));
    }
    Ok(Ok((find, resolved.changes, rec)))
}
