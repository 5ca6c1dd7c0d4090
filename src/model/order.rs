//! Sorting and selection for the engines, small on wasm32.
//!
//! On the host these are the standard library's pattern-defeating quicksort and introselect.
//! Those are generic: every element type and every comparison closure gets its own copy of
//! several kilobytes of code, and a dozen call sites put about 40 KB into the wasm module
//! (measured with `twiggy top` on `midstream_wasm.wasm`), a third of its budget. On wasm32 every
//! call goes through one heapsort over a trait object instead ([`heapsort`]): one copy of the
//! algorithm, a few dozen bytes per call site, still O(n log n) in the worst case.
//!
//! Callers give total orders (ties broken by something that tells the elements apart), so the
//! result does not depend on which algorithm ran: the host and the wasm module answer alike.

use std::cmp::Ordering;

/// Sorts `v` in ascending order by `compare`, not stably: give a total order.
#[inline]
pub fn sort_unstable_by<T>(v: &mut [T], compare: impl FnMut(&T, &T) -> Ordering) {
    #[cfg(not(target_arch = "wasm32"))]
    v.sort_unstable_by(compare);
    #[cfg(target_arch = "wasm32")]
    heapsort(&mut Slice { v, compare });
}

/// Sorts `v` in ascending order.
#[inline]
pub fn sort_unstable<T: Ord>(v: &mut [T]) {
    sort_unstable_by(v, T::cmp);
}

/// Sorts `v` by `f64::total_cmp`.
#[inline]
pub fn sort_f64(v: &mut [f64]) {
    sort_unstable_by(v, f64::total_cmp);
}

/// Reorders `v` so that `v[index]` is the element a sort by `compare` would put there, with
/// nothing greater before it and nothing less after it, and returns it.
///
/// # Panics
///
/// If `index >= v.len()`, as `select_nth_unstable_by` does.
#[inline]
pub fn select_nth_by<T>(
    v: &mut [T],
    index: usize,
    compare: impl FnMut(&T, &T) -> Ordering,
) -> &mut T {
    #[cfg(not(target_arch = "wasm32"))]
    {
        v.select_nth_unstable_by(index, compare).1
    }
    #[cfg(target_arch = "wasm32")]
    {
        assert!(
            index < v.len(),
            "select_nth_by: index {index} of {}",
            v.len()
        );
        sort_unstable_by(v, compare);
        &mut v[index]
    }
}

/// A slice and its order, seen through positions so that one heapsort serves every type.
#[cfg_attr(not(any(test, target_arch = "wasm32")), allow(dead_code))]
trait Positions {
    fn len(&self) -> usize;
    fn less(&mut self, a: usize, b: usize) -> bool;
    fn swap(&mut self, a: usize, b: usize);
}

#[cfg_attr(not(any(test, target_arch = "wasm32")), allow(dead_code))]
struct Slice<'a, T, F> {
    v: &'a mut [T],
    compare: F,
}

impl<T, F: FnMut(&T, &T) -> Ordering> Positions for Slice<'_, T, F> {
    fn len(&self) -> usize {
        self.v.len()
    }
    fn less(&mut self, a: usize, b: usize) -> bool {
        (self.compare)(&self.v[a], &self.v[b]) == Ordering::Less
    }
    fn swap(&mut self, a: usize, b: usize) {
        self.v.swap(a, b);
    }
}

/// Heapsort (Williams 1964, with Floyd's bottom-up heap construction): a max-heap is built in
/// place, then its root is swapped to the end of the unsorted part and sifted down, n times.
/// Not generic, so the module holds one copy whatever is sorted.
#[cfg_attr(not(any(test, target_arch = "wasm32")), allow(dead_code))]
#[inline(never)]
fn heapsort(v: &mut dyn Positions) {
    let len = v.len();
    for start in (0..len / 2).rev() {
        sift_down(v, start, len);
    }
    for end in (1..len).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

/// Moves the element at `node` down the heap `0..end` until both its children are not greater.
#[cfg_attr(not(any(test, target_arch = "wasm32")), allow(dead_code))]
fn sift_down(v: &mut dyn Positions, mut node: usize, end: usize) {
    loop {
        let mut child = 2 * node + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && v.less(child, child + 1) {
            child += 1;
        }
        if !v.less(node, child) {
            return;
        }
        v.swap(node, child);
        node = child;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (SplitMix64), so the tests need no dependency.
    fn values(seed: u64, n: usize, modulo: u64) -> Vec<u64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                (z ^ (z >> 31)) % modulo
            })
            .collect()
    }

    /// The heapsort the wasm module runs sorts exactly as the standard library does, on
    /// lengths around the heap's edge cases, with many repeats and with none.
    #[test]
    fn heapsort_sorts_like_the_standard_library() {
        for n in [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100, 1_000, 4_097] {
            for modulo in [2, 10, u64::MAX] {
                let input = values(n as u64 * 31 + modulo % 97, n, modulo);
                let mut expected = input.clone();
                expected.sort_unstable();
                let mut got = input.clone();
                heapsort(&mut Slice {
                    v: &mut got,
                    compare: u64::cmp,
                });
                assert_eq!(got, expected, "n = {n}, values mod {modulo}");
            }
        }
    }

    #[test]
    fn heapsort_follows_the_given_order() {
        let mut pairs: Vec<(usize, f64)> = values(7, 500, 50)
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i, v as f64 - 25.0))
            .collect();
        let mut expected = pairs.clone();
        let by_value = |a: &(usize, f64), b: &(usize, f64)| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0));
        expected.sort_by(by_value);
        heapsort(&mut Slice {
            v: &mut pairs,
            compare: by_value,
        });
        assert_eq!(pairs, expected);
    }

    #[test]
    fn selection_puts_the_nth_in_place() {
        let input: Vec<f64> = values(3, 301, 1_000)
            .into_iter()
            .map(|v| v as f64)
            .collect();
        let mut sorted = input.clone();
        sort_f64(&mut sorted);
        for index in [0, 1, 150, 300] {
            let mut v = input.clone();
            let nth = *select_nth_by(&mut v, index, f64::total_cmp);
            assert_eq!(nth, sorted[index]);
            assert!(v[..index].iter().all(|&x| x <= nth));
            assert!(v[index + 1..].iter().all(|&x| x >= nth));
        }
    }
}
