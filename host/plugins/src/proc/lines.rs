//! Reads newline-terminated lines with a length limit, so a plugin cannot make the host
//! buffer without bound.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// A line reader over a plugin's output.
pub struct LineReader<R> {
    inner: BufReader<R>,
    max: usize,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// Reads from `inner`; lines over `max` bytes are errors.
    pub fn new(inner: R, max: usize) -> LineReader<R> {
        LineReader {
            inner: BufReader::new(inner),
            max,
            buf: Vec::new(),
        }
    }

    /// The next line without its `\n` (and `\r`); `None` at the end of input. Invalid
    /// UTF-8 is replaced; a line longer than the limit is an `InvalidData` error.
    pub async fn next_line(&mut self) -> io::Result<Option<String>> {
        self.buf.clear();
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(self.take_line()));
            }
            let (used, complete) = match available.iter().position(|&b| b == b'\n') {
                Some(pos) => {
                    self.buf.extend_from_slice(&available[..pos]);
                    (pos + 1, true)
                }
                None => {
                    self.buf.extend_from_slice(available);
                    (available.len(), false)
                }
            };
            self.inner.consume(used);
            if self.buf.len() > self.max {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("a line longer than {} bytes", self.max),
                ));
            }
            if complete {
                return Ok(Some(self.take_line()));
            }
        }
    }

    fn take_line(&mut self) -> String {
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        String::from_utf8_lossy(&self.buf).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splits_lines_and_keeps_a_last_unterminated_one() {
        let mut r = LineReader::new(&b"a\r\nbb\n\nlast"[..], 100);
        assert_eq!(r.next_line().await.unwrap().as_deref(), Some("a"));
        assert_eq!(r.next_line().await.unwrap().as_deref(), Some("bb"));
        assert_eq!(r.next_line().await.unwrap().as_deref(), Some(""));
        assert_eq!(r.next_line().await.unwrap().as_deref(), Some("last"));
        assert_eq!(r.next_line().await.unwrap(), None);
    }

    #[tokio::test]
    async fn refuses_overlong_lines() {
        let mut r = LineReader::new(&b"0123456789\n"[..], 4);
        let err = r.next_line().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
