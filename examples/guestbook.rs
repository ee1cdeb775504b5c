//! A guestbook: a `fate::http` site whose form stores entries in SQLite through `fate::db`
//! and lists them — Deferreds, async/await and a database in one small program. Queries run
//! on the pool's threads; the reactor's thread only serves HTTP and never blocks.
//!
//! Run with: `cargo run --example guestbook --features db -- [--listen 127.0.0.1:8080] [--db FILE]`
//! then open http://127.0.0.1:8080/ (Ctrl-C stops it after the requests in flight).

use fate::db::{ConnectionPool, Sqlite};
use fate::http::server::{from_fn, Reply, Request, Response, Site, Tree};
use fate::http::Body;
use fate::reactor::{Phase, SystemEvent};

type Pool = ConnectionPool<Sqlite>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = "127.0.0.1:8080".to_owned();
    let mut db = "guestbook.sqlite".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--listen", Some(addr)) => listen = addr,
            ("--db", Some(file)) => db = file,
            _ => return Err("usage: guestbook [--listen ADDR] [--db FILE]".into()),
        }
    }
    let addr = listen.parse()?;
    fate::run(move || {
        // Four connections on threads of their own; the pool closes with the reactor.
        let pool = ConnectionPool::new(Sqlite::open(db), 4);
        let create = "CREATE TABLE IF NOT EXISTS entries
                      (id INTEGER PRIMARY KEY, name TEXT NOT NULL, message TEXT NOT NULL)";
        // Callback style: serve once the table exists.
        pool.run_operation(create, ()).add_both(move |created| {
            if let Err(failure) = created {
                eprintln!("cannot create the table: {failure}");
                return fate::reactor().stop();
            }
            let (list, sign) = (pool.clone(), pool);
            let root = Tree::new()
                .index(from_fn(move |_: Request| {
                    Reply::future(list_entries(list.clone()))
                }))
                .put_child(
                    "sign",
                    from_fn(move |r: Request| Reply::future(sign_entry(sign.clone(), r))),
                );
            let listening = Site::new(root).listen(addr).expect("the address is free");
            println!("guestbook on http://{}/", listening.local_addr());
            fate::reactor().add_system_event_trigger(
                Phase::Before,
                SystemEvent::Shutdown,
                move || listening.shutdown(),
            );
        });
    })?;
    Ok(())
}

/// `GET /`: the entries, newest first, and the form.
async fn list_entries(pool: Pool) -> Response {
    let entries = pool
        .run_query::<(String, String)>("SELECT name, message FROM entries ORDER BY id DESC", ())
        .await;
    let Ok(entries) = entries else {
        return html(500, "the guestbook is unreadable".into());
    };
    let mut page = String::from("<!doctype html><title>Guestbook</title><h1>Guestbook</h1>\n");
    page += "<form method=post action=/sign><input name=name placeholder=name> \
             <input name=message placeholder=message> <button>Sign</button></form>\n<ul>\n";
    for (name, message) in &entries {
        page += &format!("<li><b>{}</b>: {}</li>\n", escape(name), escape(message));
    }
    page += "</ul>\n";
    html(200, page)
}

/// `POST /sign`: stores the form's entry, then sends the browser back to the list.
async fn sign_entry(pool: Pool, request: Request) -> Response {
    let Ok(body) = request.into_body().bytes().await else {
        return html(400, "unreadable form".into());
    };
    let field = |key: &str| form_field(&body, key).filter(|v| !v.trim().is_empty());
    let (Some(name), Some(message)) = (field("name"), field("message")) else {
        return html(400, "a name and a message, please".into());
    };
    let insert = "INSERT INTO entries (name, message) VALUES (?, ?)";
    match pool.run_operation(insert, (name, message)).await {
        Ok(_) => {
            let mut back = Response::new(Body::empty());
            *back.status_mut() = 303.try_into().unwrap();
            back.headers_mut().insert("location", "/".parse().unwrap());
            back
        }
        Err(failure) => html(500, format!("not stored: {}", escape(&failure.to_string()))),
    }
}

fn html(status: u16, page: String) -> Response {
    let mut response = Response::new(page.into());
    *response.status_mut() = status.try_into().unwrap();
    let html = "text/html; charset=utf-8".parse().unwrap();
    response.headers_mut().insert("content-type", html);
    response
}

/// The value of `key` in an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], key: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        let v = v.replace('+', " ");
        (k == key).then(|| {
            percent_encoding::percent_decode_str(&v)
                .decode_utf8_lossy()
                .into()
        })
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
