//! The bytes a connection was asked to write and could not send yet.

/// A contiguous buffer consumed from the front and appended at the back.
///
/// Invariant: `start <= data.len()`; the unsent bytes are `data[start..]`. When everything
/// is sent the vector is cleared (keeping its capacity for the next burst, up to
/// [`KEEP_CAPACITY`]), so steady traffic allocates nothing.
#[derive(Default)]
pub(crate) struct WriteBuf {
    data: Vec<u8>,
    start: usize,
}

/// Capacity kept after a drain; a larger buffer (after a burst) is released, so memory
/// follows the water marks rather than the largest burst ever seen.
const KEEP_CAPACITY: usize = 256 * 1024;

impl WriteBuf {
    /// Bytes not sent yet.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.data.len() - self.start
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.data.len()
    }

    /// The bytes not sent yet.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.data[self.start..]
    }

    /// Appends `bytes`, first moving the unsent tail to the front when more than half the
    /// vector is already sent and the append would otherwise grow it.
    #[inline]
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if self.start > 0
            && self.start >= self.data.len() / 2
            && self.data.capacity() - self.data.len() < bytes.len()
        {
            self.data.drain(..self.start);
            self.start = 0;
        }
        self.data.extend_from_slice(bytes);
    }

    /// Marks `n` bytes as sent.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.data.len());
        if self.start == self.data.len() {
            self.clear();
        }
    }

    /// Drops everything (sent or not).
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.start = 0;
        if self.data.capacity() > KEEP_CAPACITY {
            self.data = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_consume_compact() {
        let mut b = WriteBuf::default();
        b.push(b"hello");
        b.push(b" world");
        assert_eq!(b.as_slice(), b"hello world");
        b.consume(6);
        assert_eq!(b.as_slice(), b"world");
        assert_eq!(b.len(), 5);
        let big = vec![7u8; 100];
        b.push(&big);
        assert_eq!(b.len(), 105);
        assert_eq!(&b.as_slice()[..5], b"world");
        b.consume(105);
        assert!(b.is_empty());
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn large_capacity_is_released_after_a_drain() {
        let mut b = WriteBuf::default();
        b.push(&vec![0u8; KEEP_CAPACITY + 1]);
        b.consume(KEEP_CAPACITY + 1);
        assert_eq!(b.data.capacity(), 0);
    }
}
