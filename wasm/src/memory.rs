//! Buffers shared with the host: allocation, reading its input, and writing a response.

use std::alloc::{Layout, alloc, dealloc};
use std::ptr;

use serde_json::{Value, json};

/// Alignment of every buffer handed out, so that an `f64` array can be written into one.
const BUFFER_ALIGN: usize = std::mem::align_of::<f64>();

/// Bytes before a response's JSON: its length, a little-endian `u32`.
const LENGTH_PREFIX: usize = 4;

fn layout(len: usize) -> Option<Layout> {
    // A zero-size allocation is undefined behaviour for `alloc`; one byte costs nothing.
    Layout::from_size_align(len.max(1), BUFFER_ALIGN).ok()
}

/// A buffer of `len` bytes, 8-byte aligned; null when there is no memory for it.
#[unsafe(no_mangle)]
pub extern "C" fn midstream_alloc(len: usize) -> *mut u8 {
    match layout(len) {
        // SAFETY: the layout has a non-zero size.
        Some(layout) => unsafe { alloc(layout) },
        None => ptr::null_mut(),
    }
}

/// Frees a buffer of [`midstream_alloc`].
///
/// # Safety
///
/// `ptr` is null or came from `midstream_alloc(len)` with this `len`, and is not used again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn midstream_free(ptr: *mut u8, len: usize) {
    if let (false, Some(layout)) = (ptr.is_null(), layout(len)) {
        // SAFETY: the caller passes a live allocation of this layout.
        unsafe { dealloc(ptr, layout) }
    }
}

/// Frees a response.
///
/// # Safety
///
/// `ptr` is null or a response returned by one of this module's functions, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn midstream_result_free(ptr: *mut u8) {
    if ptr.is_null() {
        return;
    }
    let mut prefix = [0u8; LENGTH_PREFIX];
    // SAFETY: a response starts with its length prefix.
    unsafe { ptr::copy_nonoverlapping(ptr, prefix.as_mut_ptr(), LENGTH_PREFIX) };
    let len = u32::from_le_bytes(prefix) as usize;
    // SAFETY: `respond` allocated the prefix and the JSON in one buffer.
    unsafe { midstream_free(ptr, LENGTH_PREFIX + len) }
}

/// The `f64` array the host wrote at `ptr`.
///
/// # Safety
///
/// `ptr` is null, or points to `len` initialised, 8-byte aligned `f64`s that stay untouched for
/// `'a`.
pub(crate) unsafe fn numbers<'a>(ptr: *const f64, len: usize) -> &'a [f64] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: as the caller promises.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// The UTF-8 text the host wrote at `ptr`; `what` names it in the error.
///
/// # Safety
///
/// `ptr` is null, or points to `len` initialised bytes that stay untouched for `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a str, String> {
    let bytes = if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: as the caller promises.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    };
    std::str::from_utf8(bytes).map_err(|e| format!("{what} is not UTF-8 text ({e})"))
}

/// The response to a call: the value, or `{"error": message}`, as length-prefixed JSON in a
/// buffer for [`midstream_result_free`]; null when there is no memory for it.
pub(crate) fn respond(result: Result<Value, String>) -> *mut u8 {
    let value = result.unwrap_or_else(|message| json!({ "error": message }));
    let body = value.to_string();
    let Ok(len) = u32::try_from(body.len()) else {
        return ptr::null_mut();
    };
    let buffer = midstream_alloc(LENGTH_PREFIX + body.len());
    if !buffer.is_null() {
        // SAFETY: the buffer has room for the prefix and the body, and is fresh.
        unsafe {
            ptr::copy_nonoverlapping(len.to_le_bytes().as_ptr(), buffer, LENGTH_PREFIX);
            ptr::copy_nonoverlapping(body.as_ptr(), buffer.add(LENGTH_PREFIX), body.len());
        }
    }
    buffer
}

/// Host-side helpers for the tests: calls go through the same buffers a WebAssembly host uses.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Reads and frees a response.
    pub fn take(response: *mut u8) -> Value {
        assert!(!response.is_null(), "no response");
        let mut prefix = [0u8; LENGTH_PREFIX];
        // SAFETY: a live response from `respond`.
        let body = unsafe {
            ptr::copy_nonoverlapping(response, prefix.as_mut_ptr(), LENGTH_PREFIX);
            let len = u32::from_le_bytes(prefix) as usize;
            std::slice::from_raw_parts(response.add(LENGTH_PREFIX), len).to_vec()
        };
        // SAFETY: not used again.
        unsafe { midstream_result_free(response) };
        serde_json::from_slice(&body).expect("a response is JSON")
    }

    /// A copy of the host's input in a buffer of `midstream_alloc`, as a host would write it.
    pub struct HostBuffer {
        pub ptr: *mut u8,
        /// What the exports take as the length: bytes for text, values for numbers.
        pub len: usize,
        bytes: usize,
    }

    impl HostBuffer {
        pub fn text(text: &str) -> Self {
            Self::copy(text.as_bytes(), text.len())
        }

        pub fn numbers(values: &[f64]) -> Self {
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            Self::copy(&bytes, values.len())
        }

        fn copy(bytes: &[u8], len: usize) -> Self {
            let ptr = midstream_alloc(bytes.len());
            assert!(!ptr.is_null());
            // SAFETY: a fresh buffer of this size.
            unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), ptr, bytes.len()) };
            HostBuffer {
                ptr,
                len,
                bytes: bytes.len(),
            }
        }

        pub fn as_f64(&self) -> *const f64 {
            self.ptr.cast()
        }
    }

    impl Drop for HostBuffer {
        fn drop(&mut self) {
            // SAFETY: allocated in `copy` with this size.
            unsafe { midstream_free(self.ptr, self.bytes) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::take;
    use super::*;

    #[test]
    fn a_response_is_length_prefixed_json_and_errors_are_objects() {
        assert_eq!(take(respond(Ok(json!({"value": 3})))), json!({"value": 3}));
        assert_eq!(take(respond(Err("no".into()))), json!({"error": "no"}));
    }

    #[test]
    fn empty_and_null_inputs_read_as_empty() {
        // SAFETY: null pointers are allowed.
        unsafe {
            assert!(numbers(ptr::null(), 5).is_empty());
            assert_eq!(text(ptr::null(), 0, "x"), Ok(""));
        }
        let bad = [0xffu8, 0xfe];
        // SAFETY: a live array.
        let err = unsafe { text(bad.as_ptr(), bad.len(), "the formula") }.unwrap_err();
        assert!(err.starts_with("the formula is not UTF-8 text"), "{err}");
        let buffer = midstream_alloc(0);
        assert!(!buffer.is_null());
        // SAFETY: allocated just above with this length.
        unsafe { midstream_free(buffer, 0) };
    }
}
