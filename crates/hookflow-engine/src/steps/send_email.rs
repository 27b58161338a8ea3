//! `send_email`: sends an email through an SMTP channel.

pub(crate) use crate::actions::SendEmail;

super::action::action_kind!(SendEmail, "send_email", compile_send_email, Email);
