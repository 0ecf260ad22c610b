//! Every route with its policy (B3: deny by default). Routes are added only through
//! [`Routes::add`], which requires a [`Policy`] and wraps the handler in a layer that enforces it
//! before the handler runs; the same list feeds the OpenAPI document, the API page and the
//! authorization-matrix test.

use app::{AppError, Principal};
use axum::{
    Router,
    extract::Request,
    handler::Handler,
    http::Method,
    middleware::{self, Next},
    response::{IntoResponse, Redirect, Response},
    routing::{MethodFilter, on},
};
use domain::Role;

use crate::{AppState, auth::Authed, error::ApiError, pages::PageError};

/// Who may call a route. Finer rules (care relationship, own institution) are checked in `app`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in user (staff too, even before their second factor: their own account only).
    Authenticated,
    /// Signed-in users holding one of these roles; staff must have passed their second factor.
    Roles(&'static [Role]),
}

impl Policy {
    /// Text for the API page and OpenAPI `x-policy`.
    pub fn describe(self) -> String {
        match self {
            Self::Public => "public".into(),
            Self::Authenticated => "authenticated".into(),
            Self::Roles(rs) => rs.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" | "),
        }
    }

    /// Whether `who` passes the coarse check.
    pub fn check(self, who: Option<&Principal>) -> Result<(), AppError> {
        match (self, who) {
            (Self::Public, _) => Ok(()),
            (_, None) => Err(AppError::Unauthenticated),
            (Self::Authenticated, Some(_)) => Ok(()),
            (Self::Roles(rs), Some(p)) => p.require(rs),
        }
    }
}

/// One registered route.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub policy: Policy,
    pub summary: &'static str,
}

impl RouteSpec {
    pub fn is_api(&self) -> bool {
        self.path.starts_with("/api/")
    }
}

/// Collects routes and their specs together.
pub struct Routes {
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
}

impl Default for Routes {
    fn default() -> Self {
        Self { router: Router::new(), specs: Vec::new() }
    }
}

impl Routes {
    pub fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        policy: Policy,
        summary: &'static str,
        handler: H,
    ) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let Ok(filter) = MethodFilter::try_from(method.clone()) else {
            return self;
        };
        let api = path.starts_with("/api/");
        let method_router = on(filter, handler)
            .route_layer(middleware::from_fn(move |req: Request, next: Next| enforce(policy, api, req, next)));
        self.router = self.router.route(path, method_router);
        self.specs.push(RouteSpec { method, path, policy, summary });
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        policy: Policy,
        summary: &'static str,
        h: H,
    ) -> Self {
        self.add(Method::GET, path, policy, summary, h)
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        policy: Policy,
        summary: &'static str,
        h: H,
    ) -> Self {
        self.add(Method::POST, path, policy, summary, h)
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(
        self,
        path: &'static str,
        policy: Policy,
        summary: &'static str,
        h: H,
    ) -> Self {
        self.add(Method::PUT, path, policy, summary, h)
    }

    pub fn finish(self) -> (Router<AppState>, Vec<RouteSpec>) {
        (self.router, self.specs)
    }
}

async fn enforce(policy: Policy, api: bool, req: Request, next: Next) -> Response {
    let who = req.extensions().get::<Authed>().and_then(|a| a.principal.as_ref());
    match policy.check(who) {
        Ok(()) => next.run(req).await,
        Err(e) if api => ApiError(e).into_response(),
        Err(AppError::Unauthenticated) => {
            let next_url = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
            Redirect::to(&format!("/login?next={}", crate::pages::url_encode(&next_url))).into_response()
        }
        Err(AppError::SecondFactorRequired) => Redirect::to("/totp").into_response(),
        Err(e) => {
            PageError::plain(e, req.extensions().get::<Authed>().map(|a| a.lang).unwrap_or_default()).into_response()
        }
    }
}

/// The complete route table of the service.
pub fn all_routes() -> (Router<AppState>, Vec<RouteSpec>) {
    let r = Routes::default();
    let r = crate::api::routes(r);
    let r = crate::pages::routes(r);
    r.finish()
}
