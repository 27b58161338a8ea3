//! `assign_owner`: makes a workspace member, by email, the owner of the event's contact or of the
//! one `contact` names.

use hookflow_expr::Template;
use serde_json::json;

use super::kind::{Source, StepKind};
use super::{contact, template, unknown_keys, StepErrors};
use crate::run::{Flow, Here, Live, Run};
use crate::store::{ContactChanges, StepRecord, StoreError};

#[derive(Clone)]
pub(crate) struct AssignOwner {
    owner: Template,
    contact: Option<Template>,
}

impl StepKind for AssignOwner {
    const TYPES: &'static [&'static str] = &["assign_owner"];

    fn compile(source: &Source<'_>, e: &mut StepErrors<'_>) -> Option<Self> {
        let (obj, templates) = (source.obj, source.templates);
        unknown_keys(obj, &["owner", "contact"], e);
        let owner = template(obj, "owner", templates, e);
        let contact = obj
            .contains_key("contact")
            .then(|| template(obj, "contact", templates, e))
            .flatten();
        owner.map(|owner| AssignOwner { owner, contact })
    }

    async fn run(&self, run: &mut Run<'_>, _: Live<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        match self.changes(run, here, rec).await? {
            Ok((target, changes, rec)) => contact::change(run, here, rec, target, changes).await,
            Err(flow) => Ok(flow),
        }
    }

    async fn simulate(&self, run: &mut Run<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        match self.changes(run, here, rec).await? {
            Ok((target, _, rec)) => contact::simulate_change(run, here, rec, target).await,
            Err(flow) => Ok(flow),
        }
    }
}

type Changes = Result<(contact::Target, ContactChanges, StepRecord), Flow>;

impl AssignOwner {
    /// The contact and the change; `Ok(Err)` is the step failed.
    async fn changes(&self, run: &mut Run<'_>, here: Here<'_>, mut rec: StepRecord) -> Result<Changes, StoreError> {
        let rendered = match run.render(&self.owner) {
            Ok(r) => r,
            Err(message) => return Ok(Err(run.fail(here, rec, message))),
        };
        rec.missing = rendered.missing.clone();
        let email = rendered.text().trim().to_ascii_lowercase();
        rec.input = json!({"owner": email});
        let Some(member) = run.stores.contacts.member_by_email(&run.workspace, &email).await? else {
            let message = format!("there is no member with the email `{email}` to own the contact");
            return Ok(Err(run.fail(here, rec, message)));
        };
        let changes = ContactChanges {
            owner_id: Some(member.id),
            ..Default::default()
        };
        Ok(match contact::target(run, &self.contact, &mut rec) {
            Ok(target) => Ok((target, changes, rec)),
            Err(message) => Err(run.fail(here, rec, message)),
        })
    }
}
