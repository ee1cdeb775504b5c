//! The HTTP server: a [`Site`] serves a tree of [`Resource`]s; [`File`] serves a directory.
//!
//! # Examples
//!
//! ```no_run
//! use fate::http::server::{from_fn, File, Reply, Request, Response, Site, Tree};
//!
//! fate::run(|| {
//!     let root = Tree::new()
//!         .put_child("static", File::new("./public"))
//!         .put_child("slow", from_fn(|_: Request| {
//!             Reply::future(async {
//!                 fate::sleep(std::time::Duration::from_millis(100)).await;
//!                 Response::new("done".into())
//!             })
//!         }))
//!         .index(from_fn(|_: Request| Response::new("home".into())));
//!     let listening = Site::new(root).listen("127.0.0.1:8080".parse().unwrap()).unwrap();
//!     println!("on http://{}/", listening.local_addr());
//! })
//! .unwrap();
//! ```

mod file;
mod head_timeout;
mod park;
mod resource;
mod send_timeout;
mod site;

pub use file::File;
pub use resource::{from_fn, postpath, FromFn, Postpath, Reply, Request, Resource, Response, Tree};
pub use site::{Listening, Site};
