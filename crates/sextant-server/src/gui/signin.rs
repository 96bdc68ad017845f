//! Signing in and out, and who is signed in.

use axum::Form;
use axum::body::Body;
use axum::extract::Query;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use sextant_api::{Login, Role, Whoami};

use super::failure_page;
use super::layout::{csrf_field, page};
use super::visit::{ApiFailure, Visit};

/// Who is signed in, or the sign-in page.
pub(super) async fn signed_in(visit: &mut Visit) -> Result<Whoami, ApiFailure> {
    let me: Whoami = visit.get("/api/v1/me").await?;
    visit.user = Some(me.user.name.clone());
    Ok(me)
}

/// The caller's role on `project` (an admin is an owner everywhere).
pub(super) fn role_on(me: &Whoami, project: &str) -> Option<Role> {
    if me.user.admin {
        return Some(Role::Owner);
    }
    me.roles
        .iter()
        .find(|m| m.project == project)
        .map(|m| m.role)
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Where sign-in may send the browser: a page of this GUI only.
fn next_page(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/ui/") && !n.starts_with("//") => n.to_string(),
        _ => "/ui/projects".into(),
    }
}

pub async fn signin_page(visit: Visit, Query(q): Query<NextQuery>) -> Response {
    signin_form(&visit, q.next.as_deref(), None, StatusCode::OK)
}

fn signin_form(
    visit: &Visit,
    next: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let body = html! {
        section.signin {
            h1 { "Sign in to Sextant" }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/ui/signin" {
                (csrf_field(visit))
                input type="hidden" name="next" value=(next_page(next));
                label for="user" { "User" }
                input #user type="text" name="user" autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
            p.hint { "An administrator sets passwords with " code { "sextant user passwd NAME" } "." }
        }
    };
    (status, page(visit, "Sign in", &[], body)).into_response()
}

#[derive(Deserialize)]
pub struct SigninForm {
    csrf: String,
    user: String,
    password: String,
    next: Option<String>,
}

pub async fn signin(visit: Visit, Form(form): Form<SigninForm>) -> Response {
    let next = form.next.as_deref();
    if let Err(e) = visit.check_csrf(&form.csrf) {
        return signin_form(&visit, next, Some(&e.message), e.status);
    }
    let login = Login {
        user: form.user,
        password: form.password,
    };
    let body = serde_json::to_vec(&login).expect("a login serialises");
    match visit
        .call(
            Method::POST,
            "/api/v1/login",
            Some("application/json"),
            Body::from(body),
        )
        .await
    {
        Ok(answer) => {
            let mut response = Redirect::to(&next_page(next)).into_response();
            for cookie in answer.headers().get_all(header::SET_COOKIE) {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, cookie.clone());
            }
            response
        }
        Err(e) => signin_form(&visit, next, Some(&e.message), e.status),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub(super) csrf: String,
}

pub async fn signout(visit: Visit, Form(form): Form<CsrfForm>) -> Response {
    if let Err(e) = visit.check_csrf(&form.csrf) {
        return failure_page(&visit, e);
    }
    match visit
        .call(Method::POST, "/api/v1/logout", None, Body::empty())
        .await
    {
        Ok(answer) => {
            let mut response = Redirect::to("/ui/signin").into_response();
            for cookie in answer.headers().get_all(header::SET_COOKIE) {
                response
                    .headers_mut()
                    .append(header::SET_COOKIE, cookie.clone());
            }
            response
        }
        Err(e) => failure_page(&visit, e),
    }
}
