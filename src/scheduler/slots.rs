//! Recycled memory for task nodes, so that submitting a task does not go through the system
//! allocator.
//!
//! A task node is allocated by the thread that creates the task and freed by the worker that
//! runs it. A thread-caching allocator serves the free from the worker's cache and the next
//! allocation on the producer's side finds its own cache empty, so every submission took the
//! allocator's slow path (glibc: about 86 of the roughly 250 instructions of a detached
//! submission, measured with callgrind). Here nodes that fit in a [`SLOT_BYTES`]-byte slot are
//! recycled instead, in the manner of mimalloc's thread-delayed free lists (Leijen, Zorn and de
//! Moura, "Mimalloc: Free List Sharding in Action", 2019):
//!
//! - a worker that frees a slot pushes it onto one global lock-free list, [`POOL`];
//! - a thread that allocates pops from its own thread-local list, and when that is empty takes
//!   the whole global list at once with one `swap`, keeping at most [`LOCAL_CAPACITY`] slots and
//!   giving the rest back to the system allocator; only when both are empty does it allocate a
//!   fresh slot.
//!
//! Taking the whole list, never single slots, is what makes the shared list safe without
//! tagged pointers: a `swap` cannot suffer the ABA problem that popping one element from a
//! Treiber stack has. Slots are cache-line aligned, so two nodes never share a line.
//!
//! Memory: every slot on a list was once a live node, so the lists never hold more slots than
//! the peak number of tasks alive at once plus [`LOCAL_CAPACITY`] per allocating thread; a
//! thread's list goes back to the system allocator when the thread exits. Nodes too large or too
//! aligned for a slot use the system allocator directly.

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, Ordering};

/// Size of a slot: a task node's header (about 100 bytes) and a closure of up to about 150
/// bytes of captures, which covers every task the pipeline submits (an `Arc` and a copied
/// window's `Vec`, or a few such).
pub(crate) const SLOT_BYTES: usize = 256;
/// Alignment of a slot: a cache line on x86-64 and most AArch64 cores.
pub(crate) const SLOT_ALIGN: usize = 64;
/// Most free slots a thread keeps for itself; a take of the global list beyond this returns
/// the surplus to the system allocator. 1,024 slots are 256 KiB, several times the pipeline's
/// usual number of tasks in flight.
pub(crate) const LOCAL_CAPACITY: usize = 1024;

const SLOT: Layout = match Layout::from_size_align(SLOT_BYTES, SLOT_ALIGN) {
    Ok(layout) => layout,
    Err(_) => panic!("slot size and alignment form a valid layout"),
};

/// A free slot: its first word links the list it is on.
struct Free {
    next: *mut Free,
}

/// A shared list of slots freed by any thread, newest first, waiting for an allocating thread
/// to take them all. The scheduler uses the one [`POOL`]; tests use their own.
struct Pool {
    returned: AtomicPtr<Free>,
}

static POOL: Pool = Pool::new();

/// One thread's free slots.
struct LocalSlots {
    head: Cell<*mut Free>,
}

impl LocalSlots {
    const fn new() -> Self {
        LocalSlots {
            head: Cell::new(ptr::null_mut()),
        }
    }
}

impl Drop for LocalSlots {
    fn drop(&mut self) {
        // SAFETY: the list is this thread's own and every slot on it is free.
        unsafe { release_list(self.head.replace(ptr::null_mut())) };
    }
}

thread_local! {
    static LOCAL: LocalSlots = const { LocalSlots::new() };
}

/// Whether a value of `layout` fits in a slot.
pub(crate) const fn fits(layout: Layout) -> bool {
    layout.size() <= SLOT_BYTES && layout.align() <= SLOT_ALIGN
}

/// A slot of [`SLOT_BYTES`] bytes aligned to [`SLOT_ALIGN`], uninitialised.
pub(crate) fn allocate() -> NonNull<u8> {
    // During thread teardown the thread-local list may be gone; the system allocator remains.
    if let Ok(Some(slot)) = LOCAL.try_with(|local| POOL.take(local)) {
        return slot.cast();
    }
    fresh_slot()
}

/// Gives a slot back for reuse by any thread.
///
/// # Safety
/// `slot` came from [`allocate`], is not used afterwards, and holds no value needing a drop.
pub(crate) unsafe fn release(slot: NonNull<u8>) {
    // SAFETY: the caller's contract.
    unsafe { POOL.release(slot) }
}

fn fresh_slot() -> NonNull<u8> {
    // SAFETY: `SLOT` has a non-zero size.
    let raw = unsafe { alloc::alloc(SLOT) };
    match NonNull::new(raw) {
        Some(slot) => slot,
        None => alloc::handle_alloc_error(SLOT),
    }
}

impl Pool {
    const fn new() -> Self {
        Pool {
            returned: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Pushes a free slot onto the shared list.
    ///
    /// # Safety
    /// As for [`release`].
    unsafe fn release(&self, slot: NonNull<u8>) {
        let free = slot.cast::<Free>().as_ptr();
        let mut head = self.returned.load(Ordering::Relaxed);
        loop {
            // SAFETY: the slot is ours until the exchange below publishes it, and it is large
            // and aligned enough for a `Free`.
            unsafe { free.write(Free { next: head }) };
            // Release: whoever takes the list sees the link written above.
            match self.returned.compare_exchange_weak(
                head,
                free,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(current) => head = current,
            }
        }
    }

    /// Pops a slot from `local`, first refilling it with the whole shared list when empty.
    fn take(&self, local: &LocalSlots) -> Option<NonNull<Free>> {
        let mut head = local.head.get();
        if head.is_null() {
            // Acquire: pairs with the Release in `release`, so the links are visible.
            head = self.returned.swap(ptr::null_mut(), Ordering::Acquire);
            if head.is_null() {
                return None;
            }
            // SAFETY: the swap made the whole list this thread's own; so is the surplus.
            unsafe { release_list(split_after(head, LOCAL_CAPACITY)) };
        }
        // SAFETY: `head` is a free slot on this thread's list.
        local.head.set(unsafe { (*head).next });
        NonNull::new(head)
    }
}

/// Cuts a non-empty owned list after its first `keep` slots (at least one) and returns the rest.
///
/// # Safety
/// `head` starts a list of free slots owned by the caller.
unsafe fn split_after(head: *mut Free, keep: usize) -> *mut Free {
    let mut kept = 1;
    let mut last = head;
    // SAFETY: every link of an owned list points to a free slot or is null.
    unsafe {
        while kept < keep && !(*last).next.is_null() {
            last = (*last).next;
            kept += 1;
        }
        let rest = (*last).next;
        (*last).next = ptr::null_mut();
        rest
    }
}

/// Returns every slot of an owned list to the system allocator.
///
/// # Safety
/// `head` starts a list of free slots owned by the caller (or is null).
unsafe fn release_list(mut head: *mut Free) {
    while !head.is_null() {
        // SAFETY: the slot is free and owned; its link is read before it is deallocated, and
        // it was allocated with `SLOT`.
        unsafe {
            let next = (*head).next;
            alloc::dealloc(head.cast(), SLOT);
            head = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};
    use std::thread;

    fn list_len(mut head: *mut Free) -> usize {
        let mut len = 0;
        while !head.is_null() {
            len += 1;
            // SAFETY: the tests only walk lists they own.
            head = unsafe { (*head).next };
        }
        len
    }

    fn take_or_fresh(pool: &Pool, local: &LocalSlots) -> NonNull<u8> {
        pool.take(local).map_or_else(fresh_slot, NonNull::cast)
    }

    #[test]
    fn slots_released_on_one_thread_are_reused_on_another() {
        let pool = Arc::new(Pool::new());
        let local = LocalSlots::new();
        assert!(
            pool.take(&local).is_none(),
            "a new pool has nothing to give"
        );
        let slots: Vec<usize> = (0..8)
            .map(|_| take_or_fresh(&pool, &local).as_ptr() as usize)
            .collect();
        assert!(slots.iter().all(|&a| a % SLOT_ALIGN == 0));
        let releaser = Arc::clone(&pool);
        let released = slots.clone();
        thread::spawn(move || {
            for a in released {
                let slot = NonNull::new(a as *mut u8).expect("non-null");
                // SAFETY: each address came from the pool and is released once.
                unsafe { releaser.release(slot) };
            }
        })
        .join()
        .expect("releasing thread");
        // Newest first: the last released comes back first, and all eight come back.
        let mut again: Vec<usize> = (0..8)
            .map(|_| pool.take(&local).expect("a released slot").as_ptr() as usize)
            .collect();
        assert_eq!(again[0], slots[7]);
        assert!(pool.take(&local).is_none());
        again.sort_unstable();
        let mut expected = slots;
        expected.sort_unstable();
        assert_eq!(again, expected);
        for a in again {
            // SAFETY: taken above, released once; `local` is empty, the pool frees nothing.
            unsafe { pool.release(NonNull::new(a as *mut u8).expect("non-null")) };
        }
        // SAFETY: the pool is no longer shared; its list is owned here.
        unsafe { release_list(pool.returned.swap(ptr::null_mut(), Ordering::Acquire)) };
    }

    #[test]
    fn a_take_keeps_at_most_the_local_capacity_and_frees_the_rest() {
        let pool = Pool::new();
        let filler = LocalSlots::new();
        let many: Vec<NonNull<u8>> = (0..LOCAL_CAPACITY + 10)
            .map(|_| take_or_fresh(&pool, &filler))
            .collect();
        for slot in many {
            // SAFETY: each slot is released once.
            unsafe { pool.release(slot) };
        }
        let local = LocalSlots::new();
        let first = pool.take(&local).expect("a released slot");
        // One handed out, the rest of the kept ones on the local list, nothing left shared.
        assert_eq!(list_len(local.head.get()), LOCAL_CAPACITY - 1);
        assert!(pool.returned.load(Ordering::Acquire).is_null());
        // SAFETY: the slot was allocated with `SLOT` and is owned here.
        unsafe { alloc::dealloc(first.as_ptr().cast(), SLOT) };
    }

    #[test]
    fn a_slot_is_never_handed_out_twice() {
        // Threads take slots, write their mark in each, yield, check that every mark survived
        // and release the slots to the shared list, many times over: a slot given to two
        // owners at once would show another owner's mark.
        const THREADS: usize = 4;
        const ROUNDS: usize = 2_000;
        let pool = Arc::new(Pool::new());
        let barrier = Arc::new(Barrier::new(THREADS));
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let pool = Arc::clone(&pool);
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    let local = LocalSlots::new();
                    barrier.wait();
                    for round in 0..ROUNDS {
                        let held: Vec<NonNull<u8>> = (0..1 + round % 7)
                            .map(|_| take_or_fresh(&pool, &local))
                            .collect();
                        let mark = (t * ROUNDS + round) as u64;
                        let mark_of = |slot: &NonNull<u8>| {
                            // SAFETY: the last word of a 256-byte slot, away from the link.
                            unsafe { slot.as_ptr().add(SLOT_BYTES - 8).cast::<u64>() }
                        };
                        for slot in &held {
                            // SAFETY: the slot is held by this thread alone.
                            unsafe { mark_of(slot).write(mark) };
                        }
                        thread::yield_now();
                        for slot in held {
                            // SAFETY: as above.
                            let seen = unsafe { mark_of(&slot).read() };
                            assert_eq!(seen, mark, "a slot was shared between two owners");
                            // SAFETY: taken in this round, released once.
                            unsafe { pool.release(slot) };
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("worker thread");
        }
        // SAFETY: every thread has ended; the shared list is owned here.
        unsafe { release_list(pool.returned.swap(ptr::null_mut(), Ordering::Acquire)) };
    }
}
