//! Content decoding (`Content-Encoding: gzip | deflate | br`), chunk by chunk.
//!
//! Decoders are push-style writers: each received chunk is written in and whatever came out
//! is taken, so decoding never waits for the whole body and memory stays bounded by a
//! chunk's expansion. A body that ends early (a truncated gzip stream, its CRC missing)
//! fails at `finish`.

use std::io::{self, Write};
use std::mem;

use bytes::Bytes;
use flate2::write::{DeflateDecoder, GzDecoder, ZlibDecoder};

/// The `Accept-Encoding` the agent sends when decoding is on.
pub(crate) const ACCEPT_ENCODING: &str = "gzip, deflate, br";

/// A running decoder for one body.
pub(crate) enum Decoder {
    Gzip(GzDecoder<Vec<u8>>),
    /// `deflate` before its first byte: servers send zlib-wrapped (as RFC 9110 says) or raw
    /// deflate (as some do); the first two bytes tell (held here until both arrived).
    DeflateUnknown(Vec<u8>),
    Zlib(ZlibDecoder<Vec<u8>>),
    RawDeflate(DeflateDecoder<Vec<u8>>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Vec<u8>>>),
}

impl Decoder {
    /// The decoder for a `Content-Encoding` value, or `None` for one we do not decode
    /// (`identity`, or an unknown coding: the body is passed through as is).
    pub(crate) fn for_encoding(encoding: &str) -> Option<Decoder> {
        match encoding.trim().to_ascii_lowercase().as_str() {
            "gzip" | "x-gzip" => Some(Decoder::Gzip(GzDecoder::new(Vec::new()))),
            "deflate" => Some(Decoder::DeflateUnknown(Vec::new())),
            "br" => Some(Decoder::Brotli(Box::new(
                brotli_decompressor::DecompressorWriter::new(Vec::new(), 16 * 1024),
            ))),
            _ => None,
        }
    }

    /// Decodes one chunk; returns what it decoded to (possibly nothing yet).
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> io::Result<Bytes> {
        if chunk.is_empty() {
            return Ok(Bytes::new());
        }
        if let Decoder::DeflateUnknown(head) = self {
            head.extend_from_slice(chunk);
            if head.len() < 2 {
                return Ok(Bytes::new());
            }
            let head = mem::take(head);
            *self = if is_zlib_header(&head) {
                Decoder::Zlib(ZlibDecoder::new(Vec::new()))
            } else {
                Decoder::RawDeflate(DeflateDecoder::new(Vec::new()))
            };
            return self.feed(&head);
        }
        let out = match self {
            Decoder::Gzip(d) => {
                d.write_all(chunk)?;
                d.get_mut()
            }
            Decoder::Zlib(d) => {
                d.write_all(chunk)?;
                d.get_mut()
            }
            Decoder::RawDeflate(d) => {
                d.write_all(chunk)?;
                d.get_mut()
            }
            Decoder::Brotli(d) => {
                d.write_all(chunk)?;
                d.get_mut()
            }
            Decoder::DeflateUnknown(_) => unreachable!("resolved above"),
        };
        Ok(Bytes::from(mem::take(out)))
    }

    /// Ends the body: returns the last decoded bytes, or an error if the stream was
    /// incomplete or corrupt.
    pub(crate) fn finish(self) -> io::Result<Bytes> {
        let rest = match self {
            Decoder::Gzip(d) => d.finish()?,
            Decoder::Zlib(d) => d.finish()?,
            Decoder::RawDeflate(d) => d.finish()?,
            Decoder::Brotli(mut d) => {
                d.close()?;
                d.into_inner().map_err(|_| truncated())?
            }
            Decoder::DeflateUnknown(_) => return Err(truncated()),
        };
        Ok(Bytes::from(rest))
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
            out.extend_from_slice(&d.feed(chunk)?);
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
