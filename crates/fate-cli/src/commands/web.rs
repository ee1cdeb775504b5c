//! `fate web [--listen ENDPOINT] [--path DIR|FILE] [--threads N]`: a static web server, like
//! `twist web`, on one reactor or on N sharing the port. Ctrl-C (or SIGTERM) shuts it down
//! gracefully: requests in flight finish (for up to 10 s).
//!
//! Files are found, opened and read on the thread pool, never on the reactor; only regular
//! files and directories are served; dotfiles are hidden unless `--dotfiles`; a client that
//! stops reading is cut after `--send-timeout`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fate::http::server::{File, Site};
use fate::reactor::{Phase, SystemEvent, TriggerWait};

use super::threads::{self, Threads};

/// How long a shutdown waits for requests in flight.
const GRACE: Duration = Duration::from_secs(10);

/// Options of `fate web`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Where to listen: `tcp:PORT[:interface=ADDR]`, `ADDR:PORT` or `PORT`.
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp:8080")]
    listen: String,

    /// The directory to serve, or a single file (served at `/` and under its own name).
    #[arg(long, value_name = "DIR|FILE", default_value = ".")]
    path: PathBuf,

    /// Do not list directories that have no index.html (answer 403).
    #[arg(long)]
    no_listing: bool,

    /// Serve paths with a segment that starts with `.` (`.env`, `.git/`). By default they
    /// are answered 404 and left out of listings.
    #[arg(long)]
    dotfiles: bool,

    /// Abort a connection whose response makes no progress for this many seconds (the
    /// client stopped reading); checked every 1/8 of it, at most every second.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0, value_parser = parse_seconds)]
    send_timeout: f64,

    #[command(flatten)]
    threads: Threads,
}

/// A positive number of seconds.
fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs.is_finite() && secs <= 1e9 => Ok(secs),
        _ => Err(format!("{s:?} is not a positive number of seconds")),
    }
}

pub(crate) fn main(args: Args) -> ExitCode {
    let addr = match parse_endpoint(&args.listen) {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("fate web: --listen {:?}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    if !args.path.exists() {
        eprintln!(
            "fate web: {}: no such file or directory",
            args.path.display()
        );
        return ExitCode::from(2);
    }
    let failed = Arc::new(AtomicBool::new(false));
    let flag = failed.clone();
    let send_timeout = Duration::from_secs_f64(args.send_timeout);
    let path = args.path.clone();
    let (listing, dotfiles) = (!args.no_listing, args.dotfiles);
    let ran = args.threads.run(move |stop| {
        let root = File::new(&path)
            .directory_listing(listing)
            .dotfiles(dotfiles);
        let site = Site::new(root).send_timeout(send_timeout);
        let listening = match site.listen(addr) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("fate web: {e}");
                flag.store(true, Ordering::SeqCst);
                stop.stop();
                return;
            }
        };
        if threads::is_first() {
            println!(
                "fate web: serving {} on http://{}/",
                path.display(),
                listening.local_addr()
            );
        }
        fate::reactor().add_system_event_trigger(Phase::Before, SystemEvent::Shutdown, move || {
            TriggerWait::future(async move {
                if fate::timeout(GRACE, listening.shutdown()).await.is_err() {
                    eprintln!("fate web: requests still running after {GRACE:?}; closing them");
                }
            })
        });
    });
    match ran {
        Ok(()) if !failed.load(Ordering::SeqCst) => ExitCode::SUCCESS,
        Ok(()) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("fate web: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Parses `tcp:PORT[:interface=ADDR]`, `ADDR:PORT` or `PORT`.
fn parse_endpoint(s: &str) -> Result<SocketAddr, String> {
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("{p:?} is not a port number"))
    };
    if let Some(rest) = s.strip_prefix("tcp:") {
        let (p, options) = rest.split_once(':').unwrap_or((rest, ""));
        let mut addr = SocketAddr::new(any, port(p)?);
        if !options.is_empty() {
            // The only option; its value may hold colons (IPv6).
            let Some(ip) = options.strip_prefix("interface=") else {
                return Err(format!("unknown option {options:?} (interface=ADDR)"));
            };
            addr.set_ip(
                ip.parse()
                    .map_err(|_| format!("{ip:?} is not an IP address"))?,
            );
        }
        return Ok(addr);
    }
    if let Ok(p) = s.parse::<u16>() {
        return Ok(SocketAddr::new(any, p));
    }
    s.parse::<SocketAddr>()
        .map_err(|_| "expected tcp:PORT[:interface=ADDR], ADDR:PORT or PORT".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_or_explain() {
        let ok = [
            ("tcp:8080", "0.0.0.0:8080"),
            ("tcp:0:interface=127.0.0.1", "127.0.0.1:0"),
            ("tcp:80:interface=::1", "[::1]:80"),
            ("9000", "0.0.0.0:9000"),
            ("127.0.0.1:81", "127.0.0.1:81"),
        ];
        for (input, want) in ok {
            assert_eq!(parse_endpoint(input).unwrap().to_string(), want, "{input}");
        }
        for bad in [
            "tcp:http",
            "tcp:80:backlog=5",
            "tcp:80:interface=nope",
            "unix:/x",
            "",
        ] {
            assert!(parse_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn send_timeouts_are_positive_seconds() {
        assert_eq!(parse_seconds("1.5"), Ok(1.5));
        for bad in ["0", "-1", "x", "inf", "NaN", ""] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
