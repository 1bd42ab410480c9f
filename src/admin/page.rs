//! The console's page frame (head, navigation, logout), the caller of a page, how a failure of
//! the API's rules is shown, and small renderers shared by the pages.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use http::StatusCode;
use maud::{DOCTYPE, Markup, html};
use scaivault_domain::scope::Scope;
use scaivault_domain::timestamp;
use time::OffsetDateTime;
use time::macros::format_description;

use super::session::Session;
use super::{assets, csrf};
use crate::api::auth::{Authorized, Principal, RequiredScope};
use crate::api::error::ApiError;

/// The console's sections, in navigation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Certificates,
    Orders,
    Issue,
    Accounts,
    DnsProviders,
    Webhooks,
    Events,
    Jobs,
}

impl Section {
    const ALL: [Section; 9] = [
        Section::Overview,
        Section::Certificates,
        Section::Orders,
        Section::Issue,
        Section::Accounts,
        Section::DnsProviders,
        Section::Webhooks,
        Section::Events,
        Section::Jobs,
    ];

    fn path(self) -> &'static str {
        match self {
            Section::Overview => "/",
            Section::Certificates => "/certificates",
            Section::Orders => "/orders",
            Section::Issue => "/issue",
            Section::Accounts => "/accounts",
            Section::DnsProviders => "/dns-providers",
            Section::Webhooks => "/webhooks",
            Section::Events => "/events",
            Section::Jobs => super::JOBS,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Section::Overview => "Overview",
            Section::Certificates => "Certificates",
            Section::Orders => "Orders",
            Section::Issue => "Issue",
            Section::Accounts => "Accounts",
            Section::DnsProviders => "DNS providers",
            Section::Webhooks => "Webhooks",
            Section::Events => "Events",
            Section::Jobs => "Jobs",
        }
    }
}

/// Who is asking (set by the gate), and the CSRF token their forms carry (none for a bearer
/// token: such a caller is not a browser holding a cookie).
#[derive(Debug, Clone)]
pub struct Ctx {
    pub principal: Principal,
    pub csrf: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| Redirect::to(super::login::PATH).into_response())?;
        let csrf = parts
            .extensions
            .get::<Session>()
            .map(|session| session.csrf.clone())
            .unwrap_or_default();
        Ok(Ctx { principal, csrf })
    }
}

impl Ctx {
    /// The caller as the API's handlers take it, when it holds the handler's scope.
    pub fn grant<S: RequiredScope>(&self) -> Result<Authorized<S>, ApiError> {
        Authorized::grant(self.principal.clone())
    }

    /// Whether the caller holds `scope` (to offer an action; the action checks it again).
    pub fn may(&self, scope: Scope) -> bool {
        self.principal.scopes.contains(&scope)
    }

    /// The hidden CSRF field every form carries.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name=(csrf::FIELD) value=(self.csrf); }
    }
}

/// A whole page: head, navigation with `section` current, the logout form, and `body`.
pub fn page(ctx: &Ctx, section: Section, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · ScaiVault ACME" }
                link rel="stylesheet" href=(assets::STYLESHEET);
                script src=(assets::SCRIPT) defer {}
            }
            body {
                a class="skip" href="#main" { "Skip to content" }
                header class="top" {
                    span class="brand" { "ScaiVault ACME" }
                    nav aria-label="Console" {
                        ul {
                            @for item in Section::ALL {
                                li {
                                    @if item == section {
                                        a href=(item.path()) aria-current="page" { (item.label()) }
                                    } @else {
                                        a href=(item.path()) { (item.label()) }
                                    }
                                }
                            }
                        }
                    }
                    form id="logout" method="post" action="/logout" {
                        (ctx.csrf_field())
                        span class="who" { (ctx.principal.token_id) }
                        button type="submit" { "Log out" }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// `page` as a 200 response.
pub fn ok(ctx: &Ctx, section: Section, title: &str, body: Markup) -> Response {
    Html(page(ctx, section, title, body).into_string()).into_response()
}

/// `page` with `status`.
pub fn with_status(
    status: StatusCode,
    ctx: &Ctx,
    section: Section,
    title: &str,
    body: Markup,
) -> Response {
    (status, Html(page(ctx, section, title, body).into_string())).into_response()
}

/// How the API's answer to a refused or failed action reads in the console: its status, its
/// stable code, its message and details, exactly as the API would have said them.
pub fn problem(err: &ApiError) -> Markup {
    html! {
        div class="problem" role="alert" id="problem" {
            p { strong { (err.status.as_u16()) " " code { (err.code.as_str()) } } ": " (err.message) }
            @if let Some(details) = &err.details {
                details { summary { "Details" } pre { (serde_json::to_string_pretty(details).unwrap_or_default()) } }
            }
        }
    }
}

/// A page that shows only a failure, with the failure's status.
pub fn failed(ctx: &Ctx, section: Section, title: &str, err: ApiError) -> Response {
    with_status(err.status, ctx, section, title, problem(&err))
}

/// Either a page or the failure page: the console's handlers return through this.
pub fn show(
    ctx: &Ctx,
    section: Section,
    title: &str,
    result: Result<Response, ApiError>,
) -> Response {
    result.unwrap_or_else(|err| failed(ctx, section, title, err))
}

/// A destructive action's form: it goes ahead only with the box ticked (`confirm=yes`).
#[derive(Debug, Default, serde::Deserialize)]
pub struct Confirm {
    #[serde(default)]
    confirm: Option<String>,
}

impl Confirm {
    pub fn given(&self) -> bool {
        self.confirm.as_deref() == Some("yes")
    }
}

/// A page without navigation (login, refusals before a session exists).
pub fn bare(title: &str, message: &str) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · ScaiVault ACME" }
                    link rel="stylesheet" href=(assets::STYLESHEET);
                }
                body { main id="main" class="narrow" { h1 { (title) } p id="message" { (message) } } }
            }
        }
        .into_string(),
    )
}

/// A time as `2026-12-03 14:05 UTC`, machine-readable in `datetime`, with how far away it is.
pub fn when(at: OffsetDateTime) -> Markup {
    let text = at
        .to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default();
    let iso = timestamp::rfc3339(at);
    html! { time datetime=(iso) title=(iso) { (text) } " " span class="muted" { "(" (relative(at)) ")" } }
}

/// `in 3 days`, `5 hours ago`.
pub fn relative(at: OffsetDateTime) -> String {
    let seconds = (at - timestamp::now()).whole_seconds();
    let span = seconds.unsigned_abs();
    let amount = match span {
        0..60 => format!("{span} s"),
        60..3600 => format!("{} min", span / 60),
        3600..172_800 => format!("{} h", span / 3600),
        _ => format!("{} days", span / 86_400),
    };
    if seconds >= 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// A status as a badge whose class says how it reads (good, bad, waiting).
pub fn badge(status: &str) -> Markup {
    let tone = match status {
        "valid" | "active" | "delivered" | "ready" => "good",
        "invalid" | "revoked" | "expired" | "failed" | "deactivated" => "bad",
        _ => "wait",
    };
    html! { span class={ "badge " (tone) } { (status) } }
}
