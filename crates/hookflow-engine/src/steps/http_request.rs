//! `http_request`: sends an HTTP request and reads the answer into its output.

pub(crate) use crate::actions::HttpRequest;

super::action::action_kind!(HttpRequest, "http_request", compile_http_request, Http);
