//! `fate echo`: an echo server on any stream endpoint, for tests and benchmarks.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use fate::net::{self, Protocol, Transport};

use super::threads::{self, Threads};

/// Options of `fate echo`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Where to listen, as an endpoint description: `tcp:PORT[:interface=ADDR]`,
    /// `unix:PATH`, `tls:PORT:certKey=CERT.pem:privateKey=KEY.pem`.
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp:8000")]
    listen: String,

    #[command(flatten)]
    threads: Threads,
}

/// Writes back whatever it reads.
struct Echo(Option<Transport>);

impl Protocol for Echo {
    fn connection_made(&mut self, transport: Transport) {
        tracing::info!("connection from {}", transport.peer());
        self.0 = Some(transport);
    }

    fn data_received(&mut self, data: &[u8]) {
        if let Some(t) = &self.0 {
            t.write(data);
        }
    }
}

/// Listens on `--listen` and echoes until SIGINT or SIGTERM.
pub(crate) fn main(args: Args) -> ExitCode {
    let endpoint = match net::server_from_str(&args.listen) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("fate echo: {e}");
            return ExitCode::from(2);
        }
    };
    let failed: Arc<Mutex<Option<String>>> = Arc::default();
    let f = failed.clone();
    let ran = args.threads.run(move |stop| {
        let f = f.clone();
        endpoint
            .listen(net::for_protocol(|| Echo(None)))
            .add_callback(|port| {
                if threads::is_first() {
                    println!("fate echo: listening on {}", port.host());
                }
            })
            .add_errback(move |failure| {
                f.lock().unwrap().get_or_insert(failure.to_string());
                stop.stop();
            });
    });
    if let Some(e) = failed.lock().unwrap().as_ref() {
        eprintln!("fate echo: {e}");
        return ExitCode::FAILURE;
    }
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fate echo: {e}");
            ExitCode::FAILURE
        }
    }
}
