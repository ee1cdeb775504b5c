//! Resources: what a [`Site`](crate::server::Site) routes requests to (Twisted's
//! `IResource`), and the replies they give.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use fate_deferred::Deferred;
use http::{header, HeaderValue, StatusCode};

use crate::body::Body;

/// A request as a resource sees it: its body is read on demand, within the site's size
/// limit. [`postpath`] gives the path segments below the resource.
pub type Request = http::Request<Body>;

/// A response as a resource gives it.
pub type Response = http::Response<Body>;

/// The path segments after the resource that renders (Twisted's `request.postpath`),
/// percent-decoded; stored in the request's extensions by the site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Postpath(pub Vec<String>);

/// The path segments below the rendering resource (empty unless it is a leaf).
///
/// # Examples
///
/// ```
/// let req = fate::http::server::Request::new(fate::http::Body::empty());
/// assert!(fate::http::server::postpath(&req).is_empty());
/// ```
pub fn postpath(request: &Request) -> &[String] {
    request
        .extensions()
        .get::<Postpath>()
        .map_or(&[], |p| &p.0[..])
}

/// A node in a site's URL tree: it renders requests for its own path and may have children
/// for the segments below (Twisted's `Resource` with `getChild` and `render`).
///
/// The site walks the request's path from the root: for each segment it asks the current
/// resource for [`child`](Resource::child); a [leaf](Resource::is_leaf) resource stops the
/// walk and renders with the rest of the path as its [`postpath`]. Segments no resource
/// knows give 404.
pub trait Resource: 'static {
    /// The child for one (percent-decoded) path segment, if any.
    fn child(&self, segment: &str) -> Option<Rc<dyn Resource>> {
        let _ = segment;
        None
    }

    /// Whether this resource renders everything below it (its path's rest is the
    /// request's [`postpath`]).
    fn is_leaf(&self) -> bool {
        false
    }

    /// Answers a request for this resource.
    fn render(&self, request: Request) -> Reply;
}

/// What a resource answers: a response now, or later from a future or a Deferred.
///
/// # Examples
///
/// ```
/// use fate::http::server::{Reply, Response};
///
/// let now: Reply = Response::new("now".into()).into();
/// let later = Reply::future(async { Response::new("later".into()) });
/// let (d, fire) = fate::Deferred::<Response>::pending();
/// let deferred: Reply = d.into();
/// # drop((now, later, deferred, fire));
/// ```
pub struct Reply(pub(crate) ReplyKind);

pub(crate) enum ReplyKind {
    Ready(Response),
    Later(Pin<Box<dyn Future<Output = Response>>>),
}

impl Reply {
    /// A reply computed by a future (an `async` block).
    pub fn future(fut: impl Future<Output = Response> + 'static) -> Reply {
        Reply(ReplyKind::Later(Box::pin(fut)))
    }

    /// A plain-text reply with `status`.
    ///
    /// # Examples
    ///
    /// ```
    /// let reply = fate::http::server::Reply::text(http::StatusCode::IM_A_TEAPOT, "short and stout");
    /// # drop(reply);
    /// ```
    pub fn text(status: StatusCode, text: impl Into<String>) -> Reply {
        Reply(ReplyKind::Ready(text_response(status, text.into())))
    }
}

impl From<Response> for Reply {
    fn from(r: Response) -> Reply {
        Reply(ReplyKind::Ready(r))
    }
}

/// A Deferred's failure becomes a 500 response (and an error in the log).
impl From<Deferred<Response>> for Reply {
    fn from(d: Deferred<Response>) -> Reply {
        Reply::future(async move {
            match d.await {
                Ok(r) => r,
                Err(failure) => {
                    tracing::error!("a resource's Deferred failed: {failure}");
                    text_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal server error".into(),
                    )
                }
            }
        })
    }
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ReplyKind::Ready(r) => f.debug_tuple("Reply").field(r).finish(),
            ReplyKind::Later(_) => f.write_str("Reply(<future>)"),
        }
    }
}

/// A `text/plain` response.
pub(crate) fn text_response(status: StatusCode, text: String) -> Response {
    let mut r = http::Response::new(Body::from(text));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A resource made of a function (`fn(Request) -> impl Into<Reply>`). It is a leaf: it
/// answers its own path and every path below it ([`postpath`] tells which).
///
/// # Examples
///
/// ```
/// use fate::http::server::{from_fn, Request, Response};
///
/// let hello = from_fn(|_req: Request| Response::new("hello".into()));
/// # drop(hello);
/// ```
pub fn from_fn<F, R>(f: F) -> FromFn<F>
where
    F: Fn(Request) -> R + 'static,
    R: Into<Reply>,
{
    FromFn(f)
}

/// The resource of [`from_fn`].
pub struct FromFn<F>(F);

impl<F, R> Resource for FromFn<F>
where
    F: Fn(Request) -> R + 'static,
    R: Into<Reply>,
{
    fn is_leaf(&self) -> bool {
        true
    }

    fn render(&self, request: Request) -> Reply {
        (self.0)(request).into()
    }
}

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FromFn")
    }
}

/// A resource with named children and an optional page of its own (Twisted's plain
/// `Resource` with `putChild`).
///
/// # Examples
///
/// ```
/// use fate::http::server::{from_fn, Request, Response, Tree};
///
/// let root = Tree::new()
///     .put_child("hello", from_fn(|_: Request| Response::new("hello".into())))
///     .index(from_fn(|_: Request| Response::new("home".into())));
/// # drop(root);
/// ```
#[derive(Default)]
pub struct Tree {
    children: HashMap<String, Rc<dyn Resource>>,
    index: Option<Rc<dyn Resource>>,
}

impl Tree {
    /// A tree without children; its own path answers 404 until it has an
    /// [`index`](Tree::index).
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Adds a child for the segment `name`.
    #[must_use]
    pub fn put_child(mut self, name: &str, child: impl Resource) -> Tree {
        self.children.insert(name.to_string(), Rc::new(child));
        self
    }

    /// What the tree's own path renders.
    #[must_use]
    pub fn index(mut self, page: impl Resource) -> Tree {
        self.index = Some(Rc::new(page));
        self
    }
}

impl Resource for Tree {
    fn child(&self, segment: &str) -> Option<Rc<dyn Resource>> {
        self.children.get(segment).cloned()
    }

    fn render(&self, request: Request) -> Reply {
        match &self.index {
            Some(page) => page.render(request),
            None => Reply::text(StatusCode::NOT_FOUND, "not found"),
        }
    }
}

impl fmt::Debug for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tree")
            .field("children", &self.children.keys().collect::<Vec<_>>())
            .field("index", &self.index.is_some())
            .finish()
    }
}
