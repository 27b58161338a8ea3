//! `send_message`: sends a message through a channel (WhatsApp Cloud, an SMS gateway, HTTP) to the contact or `to`.

pub(crate) use crate::actions::SendMessage;

super::action::action_kind!(SendMessage, "send_message", compile_send_message, Message);
