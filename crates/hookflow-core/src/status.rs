//! Statuses of events, executions and jobs, and the event sources.

use std::fmt;
use std::str::FromStr;

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[$vdoc])* #[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        kind: stringify!($name),
                        value: s.to_owned(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }
    };
}

/// A string that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind}; expected one of: {}", expected.join(", "))]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static [&'static str],
}

string_enum!(
    /// Where a connector's events come from (SPEC section 2).
    EventSource {
        Webhook = "webhook",
        Email = "email",
        Schedule = "schedule",
        Internal = "internal",
    }
);

string_enum!(
    /// The status of an event: that of its latest execution, or `rejected`
    /// when the request could not be understood and no execution was made.
    EventStatus {
        Received = "received",
        Running = "running",
        Waiting = "waiting",
        Succeeded = "succeeded",
        Filtered = "filtered",
        Failed = "failed",
        Rejected = "rejected",
    }
);

impl EventStatus {
    /// True once nothing more will happen to the event without a replay.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Filtered | Self::Failed | Self::Rejected)
    }
}

string_enum!(
    /// Where one step of an execution stands in the journal.
    StepStatus {
        /// Done; its output is final and the step never runs again.
        Succeeded = "succeeded",
        /// A filter that did not pass: the execution (or the branch or
        /// iteration holding it) stopped here.
        Filtered = "filtered",
        /// A delay whose time has not come.
        Waiting = "waiting",
        /// Failed for now; it will be tried again.
        Retrying = "retrying",
        /// Failed for good.
        Failed = "failed",
    }
);

impl StepStatus {
    /// True when the step must not run again.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Filtered | Self::Failed)
    }
}

string_enum!(
    /// The kind of work a job row stands for.
    JobKind {
        /// Run (or resume) an execution's steps.
        Execution = "execution",
        /// Send one delivery to a subscription.
        Delivery = "delivery",
    }
);

string_enum!(
    /// Where a job stands in the queue.
    ///
    /// `queued` (due at `run_at`) -> `running` (leased until `lease_until`) ->
    /// `done`, or back to `queued` on a retry, a release or an expired lease,
    /// or `dead` when retries are exhausted.
    JobState {
        Queued = "queued",
        Running = "running",
        Done = "done",
        Dead = "dead",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        assert_eq!("waiting".parse::<EventStatus>().unwrap(), EventStatus::Waiting);
        assert_eq!(EventStatus::Waiting.to_string(), "waiting");
        let err = "sleeping".parse::<EventStatus>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "`sleeping` is not a valid EventStatus; expected one of: received, running, waiting, succeeded, filtered, failed, rejected"
        );
    }
}
