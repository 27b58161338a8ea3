//! The types of event hookflow announces to its subscriptions: the one place they are spelled.

use std::fmt;
use std::str::FromStr;

use crate::EventStatus;

/// The prefix of the types `emit_event` steps send.
const CUSTOM: &str = "custom.";

/// The type of an event hookflow announces (`execution.failed`, `custom.order_paid`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A connector received an event and queued its execution.
    EventReceived,
    /// A connector received a request it could not understand.
    EventRejected,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionFiltered,
    ContactCreated,
    ContactUpdated,
    ContactTagged,
    /// A subscription was turned off (410 Gone, or failing too long).
    SubscriptionDisabled,
    /// Sent to one subscription on request, whatever types it wants.
    SubscriptionTest,
    /// `custom.<name>`, from an `emit_event` step; the name is checked by [`EventType::custom`].
    Custom(String),
}

/// The families a subscription may ask for whole (`execution.*`).
const FAMILIES: [&str; 5] = ["event", "execution", "contact", "subscription", "custom"];

impl EventType {
    /// Every type a subscription can ask for by name, in catalog order (`custom.*` aside).
    pub const SUBSCRIBABLE: [EventType; 9] = [
        EventType::EventReceived,
        EventType::EventRejected,
        EventType::ExecutionSucceeded,
        EventType::ExecutionFailed,
        EventType::ExecutionFiltered,
        EventType::ContactCreated,
        EventType::ContactUpdated,
        EventType::ContactTagged,
        EventType::SubscriptionDisabled,
    ];

    /// The pattern that stands for every custom type.
    pub const ANY_CUSTOM: &'static str = "custom.*";

    pub fn as_str(&self) -> &str {
        match self {
            EventType::EventReceived => "event.received",
            EventType::EventRejected => "event.rejected",
            EventType::ExecutionSucceeded => "execution.succeeded",
            EventType::ExecutionFailed => "execution.failed",
            EventType::ExecutionFiltered => "execution.filtered",
            EventType::ContactCreated => "contact.created",
            EventType::ContactUpdated => "contact.updated",
            EventType::ContactTagged => "contact.tagged",
            EventType::SubscriptionDisabled => "subscription.disabled",
            EventType::SubscriptionTest => "subscription.test",
            EventType::Custom(full) => full,
        }
    }

    /// What the type means, for the catalog.
    pub fn description(&self) -> &'static str {
        match self {
            EventType::EventReceived => "A connector received an event and queued its execution.",
            EventType::EventRejected => {
                "A connector received a request it could not understand; it is logged as rejected."
            }
            EventType::ExecutionSucceeded => "Every step of an execution finished.",
            EventType::ExecutionFailed => "An execution failed; `error` says which step and why.",
            EventType::ExecutionFiltered => "A filter ended an execution.",
            EventType::ContactCreated => "A contact was added (by the API, a field mapping or a step).",
            EventType::ContactUpdated => "A contact was changed.",
            EventType::ContactTagged => "Tags were added to a contact.",
            EventType::SubscriptionDisabled => {
                "A subscription was turned off: it answered 410 Gone, or failed for too long."
            }
            EventType::SubscriptionTest => "A test event, sent to one subscription when asked.",
            EventType::Custom(_) => {
                "Emitted by an `emit_event` step: `custom.<event_type>` with the step's templated `data`."
            }
        }
    }

    /// The custom type an `emit_event` step names: `order_paid` or `custom.order_paid` both
    /// give `custom.order_paid`. Letters, digits, `.`, `_` and `-` only.
    pub fn custom(name: &str) -> Result<EventType, String> {
        let name = name.trim();
        let full = if name.starts_with(CUSTOM) {
            name.to_owned()
        } else {
            format!("{CUSTOM}{name}")
        };
        let valid = full.len() > CUSTOM.len()
            && full
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
        if valid {
            Ok(EventType::Custom(full))
        } else {
            Err(
                "a custom event type is letters, digits, `.`, `_` and `-`, like `order_paid` (sent as custom.order_paid)"
                    .to_owned(),
            )
        }
    }

    /// The type announcing that an execution ended with `status`; `None` for a status that is
    /// not an end.
    pub fn of_execution(status: EventStatus) -> Option<EventType> {
        match status {
            EventStatus::Succeeded => Some(EventType::ExecutionSucceeded),
            EventStatus::Failed => Some(EventType::ExecutionFailed),
            EventStatus::Filtered => Some(EventType::ExecutionFiltered),
            _ => None,
        }
    }

    /// True when a subscription's `pattern` (`*`, a type, `family.*`) takes events of this type.
    pub fn matches(&self, pattern: &str) -> bool {
        let name = self.as_str();
        pattern == "*"
            || pattern == name
            || pattern
                .strip_suffix(".*")
                .is_some_and(|family| name.strip_prefix(family).is_some_and(|rest| rest.starts_with('.')))
    }

    /// True when `pattern` can match something hookflow sends: `*`, a subscribable type, a
    /// family (`execution.*`) or a custom type.
    pub fn is_known_pattern(pattern: &str) -> bool {
        pattern == "*"
            || EventType::SUBSCRIBABLE.iter().any(|t| t.as_str() == pattern)
            || pattern
                .strip_suffix(".*")
                .is_some_and(|family| FAMILIES.contains(&family))
            || pattern.strip_prefix(CUSTOM).is_some_and(|n| !n.is_empty())
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = String;

    /// Any type hookflow sends, custom ones included.
    fn from_str(s: &str) -> Result<Self, String> {
        if s == EventType::SubscriptionTest.as_str() {
            return Ok(EventType::SubscriptionTest);
        }
        if let Some(known) = EventType::SUBSCRIBABLE.iter().find(|t| t.as_str() == s) {
            return Ok(known.clone());
        }
        if s.starts_with(CUSTOM) {
            return EventType::custom(s);
        }
        Err(format!("`{s}` is not an event type hookflow sends"))
    }
}

impl serde::Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for t in EventType::SUBSCRIBABLE.iter().chain([&EventType::SubscriptionTest]) {
            assert_eq!(t.as_str().parse::<EventType>().as_ref(), Ok(t));
        }
        assert_eq!(
            "custom.order_paid".parse::<EventType>(),
            Ok(EventType::Custom("custom.order_paid".into()))
        );
        assert!("execution.exploded".parse::<EventType>().is_err());
    }

    #[test]
    fn custom_names_get_their_prefix_once() {
        assert_eq!(EventType::custom("order_paid").unwrap().as_str(), "custom.order_paid");
        assert_eq!(
            EventType::custom(" custom.order_paid ").unwrap().as_str(),
            "custom.order_paid"
        );
        assert!(EventType::custom("").is_err());
        assert!(EventType::custom("custom.").is_err());
        assert!(EventType::custom("order paid").is_err());
    }

    #[test]
    fn patterns_match_types_and_families() {
        let failed = EventType::ExecutionFailed;
        assert!(failed.matches("*"));
        assert!(failed.matches("execution.failed"));
        assert!(failed.matches("execution.*"));
        assert!(!failed.matches("execution.succeeded"));
        assert!(!failed.matches("exec.*"));
        assert!(!EventType::Custom("custom.executionx".into()).matches("custom.execution.*"));
        assert!(EventType::is_known_pattern("contact.*"));
        assert!(EventType::is_known_pattern("custom.anything"));
        assert!(!EventType::is_known_pattern("custom."));
        assert!(!EventType::is_known_pattern("contact.exploded"));
        assert!(!EventType::is_known_pattern("billing.*"));
    }

    #[test]
    fn only_ends_of_executions_are_announced() {
        assert_eq!(
            EventType::of_execution(EventStatus::Failed),
            Some(EventType::ExecutionFailed)
        );
        assert_eq!(EventType::of_execution(EventStatus::Running), None);
    }
}
