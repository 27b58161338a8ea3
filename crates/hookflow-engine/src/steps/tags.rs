//! `add_tag` and `remove_tag`: change the tags of the event's contact, or of the one `contact`
//! names.

use hookflow_expr::Template;
use serde_json::json;

use super::kind::{Source, StepKind};
use super::{contact, template, unknown_keys, StepErrors};
use crate::run::{Flow, Here, Live, Run};
use crate::store::{ContactChanges, StepRecord, StoreError};

#[derive(Clone)]
pub(crate) struct Tags {
    /// `add_tag` (true) or `remove_tag` (false).
    add: bool,
    tags: Template,
    contact: Option<Template>,
}

impl StepKind for Tags {
    const TYPES: &'static [&'static str] = &["add_tag", "remove_tag"];

    fn compile(source: &Source<'_>, e: &mut StepErrors<'_>) -> Option<Self> {
        let (obj, templates) = (source.obj, source.templates);
        unknown_keys(obj, &["tags", "contact"], e);
        let tags = template(obj, "tags", templates, e);
        let contact = obj
            .contains_key("contact")
            .then(|| template(obj, "contact", templates, e))
            .flatten();
        tags.map(|tags| Tags {
            add: source.type_name == "add_tag",
            tags,
            contact,
        })
    }

    async fn run(&self, run: &mut Run<'_>, _: Live<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        match self.changes(run, here, rec) {
            Ok((target, changes, rec)) => contact::change(run, here, rec, target, changes).await,
            Err(flow) => Ok(flow),
        }
    }

    async fn simulate(&self, run: &mut Run<'_>, here: Here<'_>, rec: StepRecord) -> Result<Flow, StoreError> {
        match self.changes(run, here, rec) {
            Ok((target, _, rec)) => contact::simulate_change(run, here, rec, target).await,
            Err(flow) => Ok(flow),
        }
    }
}

impl Tags {
    /// The contact and the change; `Err` is the step failed.
    fn changes(
        &self,
        run: &mut Run<'_>,
        here: Here<'_>,
        mut rec: StepRecord,
    ) -> Result<(contact::Target, ContactChanges, StepRecord), Flow> {
        let rendered = match run.render(&self.tags) {
            Ok(r) => r,
            Err(message) => return Err(run.fail(here, rec, message)),
        };
        rec.missing = rendered.missing.clone();
        let list = crate::contacts::split_tags(&rendered.text());
        rec.input = json!({"tags": list});
        if list.is_empty() {
            return Err(run.fail(here, rec, "no tags to change: `tags` rendered empty".into()));
        }
        let changes = if self.add {
            ContactChanges {
                add_tags: list,
                ..Default::default()
            }
        } else {
            ContactChanges {
                remove_tags: list,
                ..Default::default()
            }
        };
        match contact::target(run, &self.contact, &mut rec) {
            Ok(target) => Ok((target, changes, rec)),
            Err(message) => Err(run.fail(here, rec, message)),
        }
    }
}
