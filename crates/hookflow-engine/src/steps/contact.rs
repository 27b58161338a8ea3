//! What the contact steps (`upsert_contact`, `add_tag`/`remove_tag`, `assign_owner`) and the
//! field mapping share: which contact a step changes, and the change, made (live) or recorded
//! (simulated). The result becomes the `contact` root and the step's output.

use hookflow_core::ContactId;
use hookflow_expr::Template;
use serde_json::json;

use crate::contacts;
use crate::run::{Flow, Here, Run};
use crate::store::{Contact, ContactChanges, ContactMatch, StepRecord, StoreError};

/// Which contact a contact step changes.
pub(super) enum Target {
    /// Found (or created) by unique key, mobile or email.
    Find(ContactMatch),
    /// An existing contact, by id.
    Id(ContactId),
}

/// The contact a tag or owner step changes: `contact` (an id template) or the event's contact.
pub(super) fn target(run: &Run<'_>, contact: &Option<Template>, rec: &mut StepRecord) -> Result<Target, String> {
    let id = match contact {
        Some(t) => {
            let r = run.render(t)?;
            rec.missing.extend(r.missing.iter().cloned());
            r.text().trim().to_owned()
        }
        None => run.ctx["contact"]["id"].as_str().unwrap_or_default().to_owned(),
    };
    if id.is_empty() {
        return Err("there is no contact: map one in the field mapping, upsert one, or give `contact`".into());
    }
    rec.input["contact"] = json!(id);
    id.parse()
        .map(Target::Id)
        .map_err(|_| format!("`{id}` is not a contact id"))
}

/// Applies contact changes: an upsert creates the contact when none matches.
pub(super) async fn change(
    run: &mut Run<'_>,
    here: Here<'_>,
    rec: StepRecord,
    target: Target,
    changes: ContactChanges,
) -> Result<Flow, StoreError> {
    let contacts = run.stores.contacts;
    let contact = match &target {
        Target::Id(id) => contacts
            .update_contact(&run.workspace, id, &changes)
            .await
            .map(|c| c.map(|c| (c, false))),
        Target::Find(find) => contacts.upsert_contact(&run.workspace, find, &changes, true).await,
    };
    changed(run, here, rec, contact, false).await
}

/// Records contact changes as a side effect; the contact shown is the one found, unchanged.
pub(super) async fn simulate_change(
    run: &mut Run<'_>,
    here: Here<'_>,
    rec: StepRecord,
    target: Target,
) -> Result<Flow, StoreError> {
    let contacts = run.stores.contacts;
    let found = match &target {
        Target::Id(id) => contacts.get_contact(&run.workspace, id).await?,
        Target::Find(find) => contacts.find_contact(&run.workspace, find).await?,
    };
    run.side_effect(
        json!({"step": here.id, "contact": if found.is_some() { "update" } else { "create" },
        "input": rec.input}),
    );
    changed(run, here, rec, Ok(found.map(|c| (c, false))), true).await
}

/// Makes the contact a change gave the `contact` root and the step's output.
async fn changed(
    run: &mut Run<'_>,
    here: Here<'_>,
    mut rec: StepRecord,
    contact: Result<Option<(Contact, bool)>, StoreError>,
    simulated: bool,
) -> Result<Flow, StoreError> {
    let contact = match contact {
        Ok(c) => c,
        Err(StoreError::Conflict { .. }) => {
            return Ok(run.fail(here, rec, "another contact already has this mobile number".into()));
        }
        Err(e) => return Err(e),
    };
    let output = match contact {
        Some((c, created)) => {
            let mut v = contacts::contact_value(run.stores.contacts, &c).await?;
            v["created"] = json!(created);
            v
        }
        None if simulated => json!({"id": null, "simulated": true, "input": rec.input}),
        None => return Ok(run.fail(here, rec, "the contact does not exist".into())),
    };
    run.ctx["contact"] = output.clone();
    rec.output = output;
    run.set_output(here.id, rec.output.clone());
    run.save_now(rec).await?;
    Ok(Flow::Continue)
}
