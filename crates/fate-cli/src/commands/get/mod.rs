//! `fate get URL... [-o DIR] [-j N]`: downloads pages concurrently on one reactor, with a
//! progress bar per download on a terminal and one plain line per URL otherwise.
//!
//! Every URL is checked before anything is fetched (a bad one is a usage error, exit 2);
//! each download is bounded in time (`--idle-timeout`, `--timeout`) and size (`--max-size`,
//! `--max-ratio`), written to a partial file of its own ([`save`]) and saved under a name
//! no other download, existing file or partial file holds ([`names`]).

mod names;
mod save;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use fate::http::client::{parse_url, Agent};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use names::Names;
use save::Partial;

/// Options of `fate get`.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct Args {
    /// The URLs to download (http:// or https://).
    #[arg(required = true, value_name = "URL")]
    urls: Vec<String>,

    /// The directory to save into (created if missing).
    #[arg(short = 'o', long = "output", value_name = "DIR", default_value = ".")]
    dir: PathBuf,

    /// How many downloads run at once.
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..))]
    jobs: u16,

    /// Seconds without progress before a download fails: connecting, the TLS handshake,
    /// waiting for the response head, and between two pieces of the body.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_secs)]
    idle_timeout: Duration,

    /// Seconds a whole download may take, redirects and body included (default: no limit).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    timeout: Option<Duration>,

    /// The largest file to save, in bytes (suffixes k, M, G, T: powers of 1024); a larger
    /// download fails and its partial file is removed (default: no limit).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_size: Option<u64>,

    /// The most a compressed response may expand (decoded bytes per received byte, past
    /// the first MiB); more is refused as a decompression bomb. 0: no limit.
    #[arg(long, value_name = "N", default_value_t = 100)]
    max_ratio: u32,

    /// Overwrite existing files instead of saving under a new name.
    #[arg(short = 'f', long)]
    force: bool,
}

const AFTER_HELP: &str = "\
File names:
  Each URL saves to the last segment of its path (index.html if empty). A name already
  taken -- by an earlier URL, an existing file or its partial file -- gets .1, .2, ...
  (wget's convention): `fate get http://a/f http://b/f` saves f and f.1, and an existing
  f is kept unless --force. While it runs, a download is written to NAME.part, which is
  never a target name (a URL's f.part saves as f.part.1); a download that fails removes
  its partial file, a killed one leaves it.

Exit status:
  0  every URL was saved
  1  some download failed (each failure is reported on stderr)
  2  bad usage: an unknown option, or a URL that is not a valid http(s) URL";

/// One download: where from, where to.
#[derive(Debug, Clone)]
struct Job {
    url: String,
    path: PathBuf,
}

/// Limits that apply to each download.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_size: Option<u64>,
    force: bool,
}

pub(crate) fn main(args: Args) -> ExitCode {
    let mut urls = Vec::with_capacity(args.urls.len());
    for url in &args.urls {
        match parse_url(url).map(|uri| url::Url::parse(&uri.to_string())) {
            Ok(Ok(parsed)) => urls.push((url.clone(), parsed)),
            Ok(Err(e)) => return usage(&format!("{url}: {e}")),
            Err(e) => return usage(&e.to_string()),
        }
    }
    if let Err(e) = std::fs::create_dir_all(&args.dir) {
        eprintln!("fate get: cannot create {}: {e}", args.dir.display());
        return ExitCode::FAILURE;
    }
    let mut names = Names::new(&args.dir, args.force);
    let jobs: VecDeque<Job> = urls
        .into_iter()
        .map(|(url, parsed)| Job {
            path: names.claim(&names::file_name(&parsed)),
            url,
        })
        .collect();
    let limits = Limits {
        max_size: args.max_size,
        force: args.force,
    };
    let agent = Agent::builder()
        .connect_timeout(args.idle_timeout)
        .response_timeout(args.idle_timeout)
        .idle_timeout(args.idle_timeout)
        .total_timeout(args.timeout)
        .max_decode_ratio((args.max_ratio > 0).then_some(args.max_ratio))
        .build();
    let bars = std::io::stderr().is_terminal().then(MultiProgress::new);
    let workers = usize::from(args.jobs).min(jobs.len());
    let queue = Rc::new(RefCell::new(jobs));
    let failures: Rc<RefCell<Vec<String>>> = Rc::default();
    let outcome = fate::block_on({
        let failures = failures.clone();
        async move {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let (queue, agent, bars, failures) =
                        (queue.clone(), agent.clone(), bars.clone(), failures.clone());
                    fate::spawn_local(async move {
                        loop {
                            let job = queue.borrow_mut().pop_front();
                            let Some(job) = job else { break };
                            if let Err(e) = download(&agent, &job, limits, bars.as_ref()).await {
                                failures.borrow_mut().push(e);
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                let _ = h.await;
            }
        }
    });
    if let Err(e) = outcome {
        eprintln!("fate get: {e}");
        return ExitCode::FAILURE;
    }
    let failures = failures.borrow();
    for why in failures.iter() {
        eprintln!("fate get: {why}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Reports bad usage: exit status 2, as clap does for a bad option.
fn usage(why: &str) -> ExitCode {
    eprintln!("fate get: {why}");
    ExitCode::from(2)
}

/// Seconds, possibly fractional, more than zero.
fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if secs.is_nan() || secs <= 0.0 {
        return Err(format!("{s:?}: the time must be more than 0 seconds"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("{s:?}: too many seconds"))
}

/// Bytes, with an optional suffix k, M, G or T (powers of 1024; `KiB`, `MB`... accepted).
fn parse_size(s: &str) -> Result<u64, String> {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (k, M, G or T)")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (bytes, or a number with k, M, G or T)"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?}: too large"))
}

/// Downloads one job, showing its progress; the error message on failure.
async fn download(
    agent: &Agent,
    job: &Job,
    limits: Limits,
    bars: Option<&MultiProgress>,
) -> Result<(), String> {
    let bar = bars.map(|m| {
        let bar = m.add(ProgressBar::new_spinner());
        bar.set_message(job.url.clone());
        bar
    });
    let result = fetch(agent, job, limits, bar.as_ref()).await;
    match (&result, &bar) {
        (Ok((path, n)), Some(bar)) => {
            bar.finish_with_message(format!("{} -> {} ({n} bytes)", job.url, path.display()))
        }
        (Err(e), Some(bar)) => bar.abandon_with_message(format!("FAILED: {e}")),
        (Ok((path, n)), None) => println!("{} -> {} ({n} bytes)", job.url, path.display()),
        (Err(_), None) => {}
    }
    result.map(|_| ())
}

/// Fetches one job into its partial file, then moves it into place; where it went and how
/// many bytes.
async fn fetch(
    agent: &Agent,
    job: &Job,
    limits: Limits,
    bar: Option<&ProgressBar>,
) -> Result<(PathBuf, u64), String> {
    let mut response = agent
        .get(&job.url)
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| e.to_string())?;
    let announced = response.progress().total;
    // The length of what is saved (absent when the body is decoded: it is the encoded one).
    let length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if let (Some(max), Some(length)) = (limits.max_size, length) {
        if length > max {
            return Err(format!(
                "{}: announces {length} bytes, over --max-size {max}",
                job.url
            ));
        }
    }
    if let (Some(bar), Some(total)) = (bar, announced) {
        bar.set_length(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
    let cannot_write = |path: &std::path::Path, e: std::io::Error| {
        format!("{}: cannot write {}: {e}", job.url, path.display())
    };
    let mut part = Partial::create(&job.path, limits.force)
        .map_err(|e| cannot_write(&names::partial_path(&job.path), e))?;
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if let Some(max) = limits.max_size {
            if part.written() + chunk.len() as u64 > max {
                return Err(format!(
                    "{}: larger than --max-size {max} bytes; stopped",
                    job.url
                ));
            }
        }
        part.write(&chunk)
            .map_err(|e| cannot_write(part.path(), e))?;
        if let Some(bar) = bar {
            bar.set_position(response.progress().received);
        }
    }
    let written = part.written();
    let partial = part.path().to_path_buf();
    let path = part.finish().map_err(|e| {
        format!(
            "{}: cannot save as {}: {e} (the download is in {})",
            job.url,
            job.path.display(),
            partial.display()
        )
    })?;
    Ok((path, written))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_seconds_parse() {
        // (input, bytes)
        let sizes = [
            ("0", Some(0)),
            ("1500", Some(1500)),
            ("10k", Some(10 << 10)),
            ("2M", Some(2 << 20)),
            ("3MiB", Some(3 << 20)),
            ("1G", Some(1 << 30)),
            ("1T", Some(1 << 40)),
            ("1x", None),
            ("k", None),
            ("-1", None),
            ("99999999999T", None),
        ];
        for (input, want) in sizes {
            assert_eq!(parse_size(input).ok(), want, "{input}");
        }
        assert_eq!(parse_secs("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_secs("0").is_err());
        assert!(parse_secs("-2").is_err());
        assert!(parse_secs("NaN").is_err());
        assert!(parse_secs("inf").is_err());
    }
}
