//! Content decoding (`Content-Encoding: gzip | deflate | br`), chunk by chunk, in bounded
//! steps.
//!
//! Received chunks are queued with [`Decoder::feed`]; [`Decoder::pull`] decodes from the
//! queue until about [`OUTPUT_STEP`] bytes came out, so one small chunk of a decompression
//! bomb (gzip of zeros expands 1000-fold, brotli far more) never turns into a large buffer:
//! memory stays bounded by a step whatever the ratio. The caller decides when enough is
//! enough (the agent's ratio guard, `fate get --max-size`). A body that ends early (a
//! truncated gzip stream, its CRC missing) fails at [`Decoder::finish`].

use std::io::{self, Write};
use std::mem;

use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};
use bytes::{Buf, Bytes, BytesMut};
use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};

/// The `Accept-Encoding` the agent sends when decoding is on.
pub(crate) const ACCEPT_ENCODING: &str = "gzip, deflate, br";

/// About how many decoded bytes one [`Decoder::pull`] returns at most (a step may overshoot
/// by one internal buffer of 32 KiB).
pub(crate) const OUTPUT_STEP: usize = 64 * 1024;

/// The most input handed to a deflate decoder at once.
const INPUT_SLICE: usize = 4 * 1024;

/// A running decoder for one body.
pub(crate) struct Decoder {
    codec: Codec,
    /// Received, not yet decoded.
    input: Bytes,
}

enum Codec {
    Gzip(GzDecoder<Vec<u8>>),
    /// `deflate` before its first byte: servers send zlib-wrapped (as RFC 9110 says) or raw
    /// deflate (as some do); the first two bytes tell (held here until both arrived).
    DeflateUnknown(Vec<u8>),
    Zlib(ZlibDecoder<Vec<u8>>),
    RawDeflate(DeflateDecoder<Vec<u8>>),
    Brotli(Box<Brotli>),
}

/// Brotli's streaming state, driven directly so that each call stops when its output
/// buffer is full.
struct Brotli {
    state: BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>,
    /// The stream's last block was decoded.
    done: bool,
    /// The last call stopped with decoded output still to give.
    more_output: bool,
}

impl Decoder {
    /// The decoder for a `Content-Encoding` value, or `None` for one we do not decode
    /// (`identity`, or an unknown coding: the body is passed through as is).
    pub(crate) fn for_encoding(encoding: &str) -> Option<Decoder> {
        let codec = match encoding.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Codec::Gzip(GzDecoder::new(Vec::new())),
            "deflate" => Codec::DeflateUnknown(Vec::new()),
            "br" => Codec::Brotli(Box::new(Brotli {
                state: BrotliState::new(
                    StandardAlloc::default(),
                    StandardAlloc::default(),
                    StandardAlloc::default(),
                ),
                done: false,
                more_output: false,
            })),
            _ => return None,
        };
        Some(Decoder {
            codec,
            input: Bytes::new(),
        })
    }

    /// Queues a received chunk; [`pull`](Decoder::pull) decodes it.
    pub(crate) fn feed(&mut self, chunk: Bytes) {
        if self.input.is_empty() {
            self.input = chunk;
        } else {
            let mut joined = BytesMut::with_capacity(self.input.len() + chunk.len());
            joined.extend_from_slice(&self.input);
            joined.extend_from_slice(&chunk);
            self.input = joined.freeze();
        }
    }

    /// Whether [`pull`](Decoder::pull) has more to give: queued input, or output decoded
    /// and held back.
    pub(crate) fn has_pending(&self) -> bool {
        !self.input.is_empty() || matches!(&self.codec, Codec::Brotli(b) if b.more_output)
    }

    /// Decodes queued input until about [`OUTPUT_STEP`] bytes came out or the queue is
    /// empty; returns what came out (possibly nothing yet).
    ///
    /// # Errors
    ///
    /// Corrupt data, or data after the end of the encoded stream.
    pub(crate) fn pull(&mut self) -> io::Result<Bytes> {
        if let Codec::DeflateUnknown(head) = &mut self.codec {
            let want = 2 - head.len();
            let take = want.min(self.input.len());
            head.extend_from_slice(&self.input[..take]);
            self.input.advance(take);
            if head.len() < 2 {
                return Ok(Bytes::new());
            }
            let head = mem::take(head);
            self.codec = if is_zlib_header(&head) {
                Codec::Zlib(ZlibDecoder::new(Vec::new()))
            } else {
                Codec::RawDeflate(DeflateDecoder::new(Vec::new()))
            };
            let rest = mem::replace(&mut self.input, Bytes::from(head));
            self.feed(rest);
        }
        match &mut self.codec {
            Codec::Gzip(d) => pull_flate(d, &mut self.input),
            Codec::Zlib(d) => pull_flate(d, &mut self.input),
            Codec::RawDeflate(d) => pull_flate(d, &mut self.input),
            Codec::Brotli(b) => b.pull(&mut self.input),
            Codec::DeflateUnknown(_) => unreachable!("resolved above"),
        }
    }

    /// Ends the body: returns the last decoded bytes, or an error if the stream was
    /// incomplete or corrupt. Call once [`pull`](Decoder::pull) drained the input.
    pub(crate) fn finish(self) -> io::Result<Bytes> {
        if !self.input.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "finish with undecoded input",
            ));
        }
        let rest = match self.codec {
            Codec::Gzip(d) => d.finish()?,
            Codec::Zlib(d) => d.finish()?,
            Codec::RawDeflate(d) => d.finish()?,
            Codec::Brotli(b) if b.done => Vec::new(),
            Codec::Brotli(_) | Codec::DeflateUnknown(_) => return Err(truncated()),
        };
        Ok(Bytes::from(rest))
    }
}

/// The flate2 write-side decoders: each `write` decodes into a 32 KiB buffer and hands the
/// previous one to the inner `Vec`, so a step's output is bounded.
trait FlateWrite: Write {
    fn output(&mut self) -> &mut Vec<u8>;
}

impl FlateWrite for GzDecoder<Vec<u8>> {
    fn output(&mut self) -> &mut Vec<u8> {
        self.get_mut()
    }
}

impl FlateWrite for ZlibDecoder<Vec<u8>> {
    fn output(&mut self) -> &mut Vec<u8> {
        self.get_mut()
    }
}

impl FlateWrite for DeflateDecoder<Vec<u8>> {
    fn output(&mut self) -> &mut Vec<u8> {
        self.get_mut()
    }
}

fn pull_flate(d: &mut impl FlateWrite, input: &mut Bytes) -> io::Result<Bytes> {
    while !input.is_empty() && d.output().len() < OUTPUT_STEP {
        let n = d.write(&input[..input.len().min(INPUT_SLICE)])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "data after the end of the encoded body",
            ));
        }
        input.advance(n);
    }
    Ok(Bytes::from(mem::take(d.output())))
}

impl Brotli {
    fn pull(&mut self, input: &mut Bytes) -> io::Result<Bytes> {
        let mut out = vec![0u8; OUTPUT_STEP];
        let mut out_at = 0;
        while (!input.is_empty() || self.more_output) && out_at < out.len() {
            if self.done {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "data after the end of the encoded body",
                ));
            }
            let (mut avail_in, mut in_at) = (input.len(), 0);
            let mut avail_out = out.len() - out_at;
            let mut total = 0;
            let result = BrotliDecompressStream(
                &mut avail_in,
                &mut in_at,
                input,
                &mut avail_out,
                &mut out_at,
                &mut out,
                &mut total,
                &mut self.state,
            );
            input.advance(in_at);
            self.more_output = matches!(result, BrotliResult::NeedsMoreOutput);
            match result {
                BrotliResult::ResultSuccess => self.done = true,
                BrotliResult::NeedsMoreInput | BrotliResult::NeedsMoreOutput => {}
                BrotliResult::ResultFailure => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "corrupt brotli stream",
                    ))
                }
            }
        }
        out.truncate(out_at);
        Ok(Bytes::from(out))
    }
}

fn truncated() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "the encoded body ended early")
}

/// Whether `chunk` starts with a zlib header (RFC 1950: method 8, check bits).
fn is_zlib_header(chunk: &[u8]) -> bool {
    match chunk {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const TEXT: &[u8] = b"It is not down in any map; true places never are. \
        It is not down in any map; true places never are.";

    fn encode(encoding: &str) -> Vec<u8> {
        match encoding {
            "gzip" => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(TEXT).unwrap();
                e.finish().unwrap()
            }
            "zlib" => {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(TEXT).unwrap();
                e.finish().unwrap()
            }
            "raw" => {
                let mut e =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(TEXT).unwrap();
                e.finish().unwrap()
            }
            _ => unreachable!(),
        }
    }

    /// Feeds `data` in chunks of `split` bytes and collects the output.
    fn decode(encoding: &str, data: &[u8], split: usize) -> io::Result<Vec<u8>> {
        let mut d = Decoder::for_encoding(encoding).unwrap();
        let mut out = Vec::new();
        for chunk in data.chunks(split) {
            d.feed(Bytes::copy_from_slice(chunk));
            while d.has_pending() {
                let step = d.pull()?;
                assert!(step.len() <= OUTPUT_STEP + 32 * 1024, "{}", step.len());
                out.extend_from_slice(&step);
            }
        }
        out.extend_from_slice(&d.finish()?);
        Ok(out)
    }

    #[test]
    fn every_coding_decodes_at_every_split() {
        // (Content-Encoding, how it was encoded)
        let table = [("gzip", "gzip"), ("deflate", "zlib"), ("deflate", "raw")];
        for (coding, how) in table {
            let data = encode(how);
            for split in [1, 2, 3, 7, data.len()] {
                assert_eq!(
                    decode(coding, &data, split).unwrap(),
                    TEXT,
                    "{coding}/{how}/{split}"
                );
            }
        }
    }

    #[test]
    fn brotli_decodes() {
        // "hello" compressed with brotli -q 11.
        let data = [0x0b, 0x02, 0x80, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x03];
        for split in [1, 4, data.len()] {
            assert_eq!(decode("br", &data, split).unwrap(), b"hello");
        }
    }

    #[test]
    fn truncated_gzip_fails_at_finish() {
        let data = encode("gzip");
        let err = decode("gzip", &data[..data.len() - 4], 5).unwrap_err();
        assert!(
            err.kind() == io::ErrorKind::InvalidInput
                || err.kind() == io::ErrorKind::UnexpectedEof
                || err.kind() == io::ErrorKind::InvalidData,
            "{err:?}"
        );
    }

    #[test]
    fn identity_and_unknown_codings_pass_through() {
        assert!(Decoder::for_encoding("identity").is_none());
        assert!(Decoder::for_encoding("zstd").is_none());
        assert!(Decoder::for_encoding(" GZIP ").is_some());
    }
}
