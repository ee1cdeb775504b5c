//! `fate get URL... [-o DIR] [-j N]`: downloads pages concurrently on one reactor, with a
//! progress bar per download on a terminal and one plain line per URL otherwise.

use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use fate::http::client::Agent;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// Options of `fate get`.
#[derive(clap::Args, Debug)]
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

    /// Seconds a download may stall (no byte received) before it fails.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    idle_timeout: u64,
}

/// One download: where from, where to.
#[derive(Debug, Clone)]
struct Job {
    url: String,
    path: PathBuf,
}

pub(crate) fn main(args: Args) -> ExitCode {
    if let Err(e) = std::fs::create_dir_all(&args.dir) {
        eprintln!("fate get: cannot create {}: {e}", args.dir.display());
        return ExitCode::FAILURE;
    }
    let jobs = plan(&args.urls, &args.dir);
    let agent = Agent::builder()
        .idle_timeout(Duration::from_secs(args.idle_timeout))
        .connect_timeout(Duration::from_secs(30))
        .build();
    let bars = std::io::stderr().is_terminal().then(MultiProgress::new);
    let queue = Rc::new(RefCell::new(jobs.into_iter().collect::<VecDeque<_>>()));
    let failures: Rc<RefCell<Vec<(String, String)>>> = Rc::default();
    let workers = usize::from(args.jobs).min(queue.borrow().len());
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
                            if let Err(e) = download(&agent, &job, bars.as_ref()).await {
                                failures.borrow_mut().push((job.url.clone(), e));
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
    for (_, why) in failures.iter() {
        eprintln!("fate get: {why}");
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Picks a distinct file name in `dir` for each URL: the last path segment, else
/// `index.html`; repeats get `.1`, `.2`...
fn plan(urls: &[String], dir: &Path) -> Vec<Job> {
    let mut taken = HashSet::new();
    urls.iter()
        .map(|url| {
            let base = file_name(url);
            let mut name = base.clone();
            let mut n = 0;
            while !taken.insert(name.clone()) {
                n += 1;
                name = format!("{base}.{n}");
            }
            Job {
                url: url.clone(),
                path: dir.join(name),
            }
        })
        .collect()
}

/// The file name a URL saves to.
fn file_name(url: &str) -> String {
    let path = url
        .split_once("://")
        .map_or(url, |(_, rest)| rest.split_once('/').map_or("", |(_, p)| p));
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let last = path.rsplit('/').next().unwrap_or_default();
    let decoded = percent_encoding::percent_decode_str(last).decode_utf8_lossy();
    let safe: String = decoded
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if safe.is_empty() || safe == "." || safe == ".." {
        "index.html".to_string()
    } else {
        safe
    }
}

/// Downloads one job, showing its progress; the error message on failure.
async fn download(agent: &Agent, job: &Job, bars: Option<&MultiProgress>) -> Result<(), String> {
    let bar = bars.map(|m| {
        let bar = m.add(ProgressBar::new_spinner());
        bar.set_message(job.url.clone());
        bar
    });
    let result = fetch(agent, job, bar.as_ref()).await;
    match (&result, &bar) {
        (Ok(n), Some(bar)) => {
            bar.finish_with_message(format!("{} -> {} ({n} bytes)", job.url, job.path.display()))
        }
        (Err(e), Some(bar)) => bar.abandon_with_message(format!("FAILED: {e}")),
        (Ok(n), None) => println!("{} -> {} ({n} bytes)", job.url, job.path.display()),
        (Err(_), None) => {}
    }
    result.map(|_| ())
}

async fn fetch(agent: &Agent, job: &Job, bar: Option<&ProgressBar>) -> Result<u64, String> {
    let mut response = agent
        .get(&job.url)
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| e.to_string())?;
    if let (Some(bar), Some(total)) = (bar, response.progress().total) {
        bar.set_length(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
    let part = job.path.with_extension(match job.path.extension() {
        Some(ext) => format!("{}.part", ext.to_string_lossy()),
        None => "part".to_string(),
    });
    let mut file = File::create(&part)
        .map_err(|e| format!("{}: cannot write {}: {e}", job.url, part.display()))?;
    let mut written = 0u64;
    let copied = async {
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            file.write_all(&chunk)
                .map_err(|e| format!("{}: cannot write {}: {e}", job.url, part.display()))?;
            written += chunk.len() as u64;
            if let Some(bar) = bar {
                bar.set_position(response.progress().received);
            }
        }
        Ok::<_, String>(())
    }
    .await;
    drop(file);
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    std::fs::rename(&part, &job.path)
        .map_err(|e| format!("{}: cannot write {}: {e}", job.url, job.path.display()))?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_map_to_distinct_safe_file_names() {
        // (URL, file name)
        let table = [
            ("http://h/a/b.iso", "b.iso"),
            ("http://h/", "index.html"),
            ("http://h", "index.html"),
            ("http://h/dir/", "index.html"),
            ("http://h/x.txt?y=1#z", "x.txt"),
            ("http://h/with%20space", "with space"),
            ("http://h/%2e%2e", "index.html"),
            ("http://h/a%2fb", "a_b"),
        ];
        for (url, name) in table {
            assert_eq!(file_name(url), name, "{url}");
        }
        let urls: Vec<String> = ["http://a/f", "http://b/f", "http://c/f"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let names: Vec<_> = plan(&urls, Path::new("d"))
            .into_iter()
            .map(|j| j.path)
            .collect();
        assert_eq!(
            names,
            [Path::new("d/f"), Path::new("d/f.1"), Path::new("d/f.2")]
        );
    }
}
