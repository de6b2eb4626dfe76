//! The driver's one read buffer, for every driver: transport reads land in initialised room
//! right after the bytes the stack has not consumed yet, so a read needs neither a scratch
//! copy nor `unsafe`, and what it brought joins the input in O(1).

use bytes::BytesMut;

/// The fewest bytes a read may fill: below it the room is renewed.
const READ_SIZE: usize = 16 * 1024;

/// The room zeroed at once, then filled by reads until less than [`READ_SIZE`] is left: a
/// download costs one `memset` per byte, not a copy, and a keep-alive exchange almost nothing.
const ROOM: usize = 64 * 1024;

/// How much of the room one `memset` zeroes: a short `memset` is a few vector stores, where
/// one of 64 KiB takes the string instruction (slower at these sizes, and counted per byte by
/// callgrind).
const ZERO_STEP: usize = 2 * 1024;

/// Bytes read and not yet consumed ([`ReadBuffer::input`], handed to
/// [`Stack::handle_input`](crate::Stack::handle_input)), and the room the next read fills
/// ([`ReadBuffer::room`], then [`ReadBuffer::filled`]).
#[derive(Debug, Default)]
pub struct ReadBuffer {
    input: BytesMut,
    /// Initialised room right after `input`, in the same allocation while no piece handed out
    /// still holds it (the core's pieces are views of the input).
    room: BytesMut,
}

impl ReadBuffer {
    /// An empty buffer; the first [`ReadBuffer::room`] allocates.
    #[must_use]
    pub fn new() -> ReadBuffer {
        ReadBuffer::default()
    }

    /// The bytes read and not yet consumed.
    #[inline]
    pub fn input(&mut self) -> &mut BytesMut {
        &mut self.input
    }

    /// Whether every byte read has been consumed.
    #[must_use]
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.input.is_empty()
    }

    /// Where the next read goes: at least 16 KiB of initialised room after the input.
    #[inline]
    pub fn room(&mut self) -> &mut [u8] {
        if self.room.len() < READ_SIZE {
            self.renew();
        }
        &mut self.room[..]
    }

    /// The last read put `n` bytes at the front of [`ReadBuffer::room`]: they join the input.
    /// More than the room holds is taken as all of it.
    #[inline]
    pub fn filled(&mut self, n: usize) {
        let n = n.min(self.room.len());
        self.input.unsplit(self.room.split_to(n));
    }

    /// Drops what was read and not consumed (a new transport starts empty).
    pub fn clear(&mut self) {
        self.input.clear();
    }

    /// [`ROOM`] bytes zeroed after the input: in place when no piece handed out still holds
    /// the buffer, else in a new one.
    #[inline(never)]
    fn renew(&mut self) {
        self.room = BytesMut::new();
        let len = self.input.len();
        self.input.reserve(ROOM);
        while self.input.len() < len + ROOM {
            let step = (len + ROOM - self.input.len()).min(ZERO_STEP);
            self.input.resize(self.input.len() + step, 0);
        }
        self.room = self.input.split_off(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_join_the_input_in_order_and_room_is_renewed_in_place() {
        let mut buf = ReadBuffer::new();
        assert!(buf.is_empty());
        let room = buf.room();
        assert!(room.len() >= READ_SIZE);
        room[..3].copy_from_slice(b"abc");
        buf.filled(3);
        buf.room()[..2].copy_from_slice(b"de");
        buf.filled(2);
        assert_eq!(&buf.input()[..], b"abcde");
        // Consumed, as the core splits off what it takes: the room stays where it was.
        let at = buf.input().as_ptr();
        drop(buf.input().split_to(5));
        buf.room()[0] = b'f';
        buf.filled(1);
        assert_eq!(&buf.input()[..], b"f");
        assert_eq!(buf.input().as_ptr(), at.wrapping_add(5), "no copy, no new buffer");
        // Filling up to the renewal keeps every byte.
        let mut want = b"f".to_vec();
        for i in 0..20u8 {
            let room = buf.room();
            assert!(room.len() >= READ_SIZE);
            room[..READ_SIZE].fill(i);
            buf.filled(READ_SIZE);
            want.extend(std::iter::repeat_n(i, READ_SIZE));
        }
        assert_eq!(&buf.input()[..], &want[..]);
        buf.filled(usize::MAX);
        buf.clear();
        assert!(buf.is_empty());
    }
}
