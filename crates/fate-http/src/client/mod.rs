//! The HTTP client: [`Agent`] for requests, [`get_page`] and [`download_page`] for whole
//! pages as Deferreds.
//!
//! # Examples
//!
//! ```no_run
//! fate::block_on(async {
//!     let agent = fate::http::client::Agent::new();
//!     let mut response = agent.get("http://127.0.0.1:8080/big.iso").await?;
//!     while let Some(chunk) = response.chunk().await? {
//!         let p = response.progress();
//!         println!("{} bytes (+{}) of {:?}", p.received, chunk.len(), p.total);
//!     }
//!     Ok::<_, fate::http::Error>(())
//! })
//! .unwrap()
//! .unwrap();
//! ```

mod agent;
mod decode;
mod page;
mod pool;
mod redirect;
mod response;
mod tls;
mod urls;

pub use agent::{Agent, AgentBuilder};
pub use page::{download_page, get_page};
pub use response::{Progress, Response};
pub use urls::{parse_url, resolve_redirect};
