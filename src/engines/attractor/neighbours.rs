//! Nearest neighbours of delay vectors with a Theiler window, on a k-d tree.
//!
//! Uses kiddo's immutable k-d tree. kiddo has no filtered nearest-neighbour query, so the
//! search asks for a few candidates, drops those inside the Theiler window (Theiler 1986) or at
//! a duplicate position, and asks for more when none is left. A point with more excluded
//! candidates than [`MAX_TREE_CANDIDATES`] (a strictly periodic series has a duplicate every
//! period) is answered by a linear scan, which is then cheaper than a large k-nearest query.
//! The tree is const-generic in its dimension, so each supported dimension is one instance.
//!
//! On wasm32 there is no tree: every query is the exact linear scan, which finds the same
//! distances. The tree's twelve instances are about 18 KB of the gzipped WebAssembly module
//! (`midstream-wasm`, whose budget is 100 KB); the scan costs O(n) per query instead of about
//! O(log n).

use std::collections::BinaryHeap;
use std::num::NonZero;

use kiddo::SquaredEuclidean;
use kiddo::immutable::float::kdtree::ImmutableKdTree;

use crate::model::order;

/// Candidates asked for first: enough for most points of a flow sampled ~100 times per cycle,
/// where the closest candidates are the point's own trajectory neighbours.
const INITIAL_CANDIDATES: usize = 8;

/// Above this many candidates a linear scan over all points is cheaper than the tree query
/// (measured on n = 5000, m = 3: a 256-nearest query costs about as much as a full scan).
const MAX_TREE_CANDIDATES: usize = 128;

/// Delay coordinates the box-assisted pair search grids on (the first three, or fewer).
const GRID_AXES: usize = 3;

/// Most boxes of the box-assisted pair search; coarser boxes only mean more candidates.
const MAX_BOXES: usize = 1 << 21;

/// While queries keep needing the linear scan, the tree is retried once every this many.
const SCAN_RETRY: usize = 16;

/// A linear scan first sorts only this many candidates per neighbour wanted.
const SCAN_HEAD_PER_NEIGHBOUR: usize = 32;

/// Bucket size of the k-d tree leaves (kiddo's recommended default).
const BUCKET: usize = 32;

/// A scan candidate, ordered by distance (largest first in a max-heap).
#[derive(Debug, Clone, Copy)]
struct Candidate {
    distance_sq: f64,
    index: usize,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.distance_sq
            .total_cmp(&other.distance_sq)
            .then(self.index.cmp(&other.index))
    }
}

/// A neighbour of a query point: its index and its Euclidean distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Neighbour {
    pub index: usize,
    pub distance: f64,
}

/// The delay vectors `(x[i], x[i+τ], …, x[i+(m−1)τ])` for `i < count`, and what counts as an
/// admissible neighbour of one of them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NeighbourSearch<'a> {
    pub series: &'a [f64],
    pub dim: usize,
    pub delay: usize,
    /// Number of delay vectors taking part (all need `i + (dim−1)·delay < series.len()`).
    pub count: usize,
    /// Candidates with `|i − j| ≤ theiler` are temporal neighbours and never admissible.
    pub theiler: usize,
    /// Candidates at a squared distance at or below this are duplicates and never admissible.
    pub min_distance_sq: f64,
}

impl NeighbourSearch<'_> {
    fn admissible(&self, query: usize, candidate: usize, distance_sq: f64) -> bool {
        query.abs_diff(candidate) > self.theiler && distance_sq > self.min_distance_sq
    }

    fn distance_sq(&self, a: usize, b: usize) -> f64 {
        (0..self.dim)
            .map(|c| {
                let d = self.series[a + c * self.delay] - self.series[b + c * self.delay];
                d * d
            })
            .sum()
    }

    /// Greedily takes candidates (sorted by distance) that are admissible and, when
    /// `separated`, outside the Theiler window of every neighbour already taken.
    fn select(
        &self,
        query: usize,
        k: usize,
        separated: bool,
        candidates: impl Iterator<Item = (usize, f64)>,
        out: &mut Vec<Neighbour>,
    ) -> usize {
        out.clear();
        let mut rank = 0;
        for (index, distance_sq) in candidates {
            rank += 1;
            if !self.admissible(query, index, distance_sq) {
                continue;
            }
            if separated
                && out
                    .iter()
                    .any(|nb| nb.index.abs_diff(index) <= self.theiler)
            {
                continue;
            }
            out.push(Neighbour {
                index,
                distance: distance_sq.sqrt(),
            });
            if out.len() == k {
                break;
            }
        }
        rank
    }

    /// The `k` nearest admissible neighbours by a linear scan over all points. The scan keeps
    /// only the closest `SCAN_HEAD_PER_NEIGHBOUR · k` candidates (a bounded max-heap, with the
    /// distance sum abandoned as soon as it exceeds the worst of them); all candidates are
    /// sorted only if those do not yield `k` neighbours.
    fn scan(&self, query: usize, k: usize, separated: bool, out: &mut Vec<Neighbour>) {
        let head = SCAN_HEAD_PER_NEIGHBOUR * k;
        let mut best: BinaryHeap<Candidate> = BinaryHeap::with_capacity(head + 1);
        for j in 0..self.count {
            if query.abs_diff(j) <= self.theiler {
                continue;
            }
            let bound = if best.len() == head {
                best.peek().map_or(f64::INFINITY, |c| c.distance_sq)
            } else {
                f64::INFINITY
            };
            let Some(d2) = self.distance_sq_below(query, j, bound) else {
                continue;
            };
            if d2 <= self.min_distance_sq {
                continue;
            }
            best.push(Candidate {
                distance_sq: d2,
                index: j,
            });
            if best.len() > head {
                best.pop();
            }
        }
        let complete = best.len() < head;
        let sorted = best.into_sorted_vec();
        self.select(
            query,
            k,
            separated,
            sorted.iter().map(|c| (c.index, c.distance_sq)),
            out,
        );
        if out.len() == k || complete {
            return;
        }
        let mut all: Vec<(usize, f64)> = (0..self.count)
            .map(|j| (j, self.distance_sq(query, j)))
            .filter(|&(j, d2)| self.admissible(query, j, d2))
            .collect();
        order::sort_unstable_by(&mut all, |a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        self.select(query, k, separated, all.into_iter(), out);
    }

    /// Squared distance, or `None` as soon as the partial sum reaches `bound`.
    fn distance_sq_below(&self, a: usize, b: usize, bound: f64) -> Option<f64> {
        let mut sum = 0.0;
        for c in 0..self.dim {
            let d = self.series[a + c * self.delay] - self.series[b + c * self.delay];
            sum += d * d;
            if sum >= bound {
                return None;
            }
        }
        Some(sum)
    }

    /// The nearest admissible neighbour of each query point (`None` where there is none).
    pub fn nearest(&self, queries: &[usize]) -> Vec<Option<Neighbour>> {
        self.nearest_k(queries, 1, false)
            .into_iter()
            .map(|v| v.first().copied())
            .collect()
    }

    /// Up to `k` nearest admissible neighbours of each query point, nearest first. With
    /// `separated`, the neighbours of one point are also more than a Theiler window apart from
    /// each other, so that each comes from a different pass of the trajectory.
    pub fn nearest_k(&self, queries: &[usize], k: usize, separated: bool) -> Vec<Vec<Neighbour>> {
        debug_assert!(
            self.count == 0 || self.count - 1 + (self.dim - 1) * self.delay < self.series.len()
        );
        if self.count == 0 || k == 0 {
            return vec![Vec::new(); queries.len()];
        }
        // On wasm32 every dimension takes the scan (see the module's documentation); the tree's
        // instances are then never called, and the linker leaves them out.
        if cfg!(target_arch = "wasm32") {
            return self.scan_each(queries, k, separated);
        }
        macro_rules! by_dim {
            ($($d:literal)*) => {
                match self.dim {
                    $($d => self.nearest_tree::<$d>(queries, k, separated),)*
                    _ => self.scan_each(queries, k, separated),
                }
            };
        }
        by_dim!(1 2 3 4 5 6 7 8 9 10 11 12)
    }

    /// [`Self::nearest_k`] by the linear scan alone.
    fn scan_each(&self, queries: &[usize], k: usize, separated: bool) -> Vec<Vec<Neighbour>> {
        queries
            .iter()
            .map(|&q| {
                let mut out = Vec::with_capacity(k);
                self.scan(q, k, separated, &mut out);
                out
            })
            .collect()
    }

    /// Calls `visit` with the squared distance of every pair `i < j` of delay vectors with
    /// `j − i > theiler` that are closer than `radius_sq` (squared): each pair once, never a
    /// point with itself.
    ///
    /// Box-assisted search (Grassberger 1990, Phys. Lett. A 148, 63; Schreiber 1995): points
    /// are sorted into cubic boxes of side r on their first three coordinates, and each point is
    /// compared only with the points of its own and the 26 adjacent boxes, so the work grows with
    /// the number of close pairs rather than with n²/2. (kiddo's fixed-radius query does the
    /// same job but was measured at about 80 instructions per pair found, several times this,
    /// and allocates per query.)
    ///
    /// When the boxes hold more than `max_candidates` candidate pairs, only every s-th point is
    /// used as the first member `i` of a pair (s chosen to fit the budget); the caller scales
    /// its totals accordingly (the stride is returned).
    pub fn for_each_close_pair(
        &self,
        radius_sq: f64,
        max_candidates: u64,
        mut visit: impl FnMut(f64),
    ) -> usize {
        if self.count == 0 || radius_sq.is_nan() || radius_sq <= 0.0 {
            return 1;
        }
        let coordinate = |i: usize, axis: usize| self.series[i + axis * self.delay];
        let axes = self.dim.min(GRID_AXES);
        let mut lo = [0.0f64; GRID_AXES];
        let mut hi = [0.0f64; GRID_AXES];
        for axis in 0..axes {
            let (a, b) = (0..self.count).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), i| {
                let v = coordinate(i, axis);
                (a.min(v), b.max(v))
            });
            (lo[axis], hi[axis]) = (a, b);
        }
        let span = (0..axes).map(|a| hi[a] - lo[a]).fold(0.0, f64::max);
        let max_per_axis = (MAX_BOXES as f64).powf(1.0 / axes as f64).floor().max(1.0);
        let side = radius_sq.sqrt().max(span / max_per_axis);
        if !(side > 0.0 && side.is_finite()) {
            // All points coincide on the grid axes: compare everything.
            self.close_pairs_scan(radius_sq, &mut visit);
            return 1;
        }
        let mut size = [1usize; GRID_AXES];
        for axis in 0..axes {
            size[axis] = ((hi[axis] - lo[axis]) / side) as usize + 1;
        }
        let cell_coords = |i: usize| -> [usize; GRID_AXES] {
            let mut c = [0usize; GRID_AXES];
            for axis in 0..axes {
                c[axis] = (((coordinate(i, axis) - lo[axis]) / side) as usize).min(size[axis] - 1);
            }
            c
        };
        let flat = |c: [usize; GRID_AXES]| (c[2] * size[1] + c[1]) * size[0] + c[0];
        let cells = size.iter().product::<usize>();
        // Counting sort of the points by box; each box's list stays in increasing index order.
        let cell: Vec<[usize; GRID_AXES]> = (0..self.count).map(cell_coords).collect();
        let mut starts = vec![0usize; cells + 1];
        for c in &cell {
            starts[flat(*c) + 1] += 1;
        }
        for c in 0..cells {
            starts[c + 1] += starts[c];
        }
        let mut fill = starts.clone();
        let mut order = vec![0usize; self.count];
        for (i, c) in cell.iter().enumerate() {
            let f = flat(*c);
            order[fill[f]] = i;
            fill[f] += 1;
        }
        let range = |c: usize, axis: usize| c.saturating_sub(1)..=(c + 1).min(size[axis] - 1);
        // Candidates: for every point, the members of its own and the adjacent boxes (halved,
        // as each pair is looked at from one side only).
        let mut candidates = 0u64;
        for c in &cell {
            for z in range(c[2], 2) {
                for y in range(c[1], 1) {
                    for x in range(c[0], 0) {
                        let f = flat([x, y, z]);
                        candidates += (starts[f + 1] - starts[f]) as u64;
                    }
                }
            }
        }
        let stride = (candidates / 2).div_ceil(max_candidates.max(1)).max(1) as usize;
        for (i, c) in cell.iter().enumerate().step_by(stride) {
            let first_j = i + self.theiler + 1;
            for z in range(c[2], 2) {
                for y in range(c[1], 1) {
                    for x in range(c[0], 0) {
                        let f = flat([x, y, z]);
                        let members = &order[starts[f]..starts[f + 1]];
                        let from = members.partition_point(|&j| j < first_j);
                        for &j in &members[from..] {
                            let d2 = self.distance_sq(i, j);
                            if d2 < radius_sq {
                                visit(d2);
                            }
                        }
                    }
                }
            }
        }
        stride
    }

    fn close_pairs_scan(&self, radius_sq: f64, visit: &mut impl FnMut(f64)) {
        for i in 0..self.count {
            for j in i + self.theiler + 1..self.count {
                let d2 = self.distance_sq(i, j);
                if d2 < radius_sq {
                    visit(d2);
                }
            }
        }
    }

    fn nearest_tree<const D: usize>(
        &self,
        queries: &[usize],
        k: usize,
        separated: bool,
    ) -> Vec<Vec<Neighbour>> {
        let points: Vec<[f64; D]> = (0..self.count)
            .map(|i| std::array::from_fn(|c| self.series[i + c * self.delay]))
            .collect();
        let tree: ImmutableKdTree<f64, u32, D, BUCKET> = ImmutableKdTree::new_from_slice(&points);
        let mut out = Vec::with_capacity(queries.len());
        // Consecutive queries tend to need similar numbers of candidates (a periodic series needs
        // about n/period at every point), so each starts from about what the previous one used.
        let mut start = INITIAL_CANDIDATES.max(2 * k);
        let mut found = Vec::with_capacity(k);
        // After a query had to fall back to a scan, the next ones go straight to the scan (the
        // tree is tried again every SCAN_RETRY queries): a random walk's nearest points are all
        // inside its wide Theiler window, and the failed tree queries would be pure overhead.
        let mut scans_in_a_row = 0usize;
        for &q in queries {
            if scans_in_a_row > 0 && !scans_in_a_row.is_multiple_of(SCAN_RETRY) {
                self.scan(q, k, separated, &mut found);
                scans_in_a_row += 1;
                out.push(found.clone());
                continue;
            }
            let mut wanted = start.min(self.count);
            while let Some(qty) = NonZero::new(wanted) {
                let candidates = tree.nearest_n::<SquaredEuclidean>(&points[q], qty);
                let exhausted = candidates.len() < wanted || wanted >= self.count;
                let used = self.select(
                    q,
                    k,
                    separated,
                    candidates.iter().map(|nb| (nb.item as usize, nb.distance)),
                    &mut found,
                );
                if found.len() == k || exhausted {
                    start = used.next_power_of_two().max(INITIAL_CANDIDATES.max(2 * k));
                    scans_in_a_row = 0;
                    break;
                }
                if wanted >= MAX_TREE_CANDIDATES {
                    start = MAX_TREE_CANDIDATES;
                    self.scan(q, k, separated, &mut found);
                    scans_in_a_row += 1;
                    break;
                }
                wanted = (wanted * 4).min(self.count);
            }
            out.push(found.clone());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(n: usize) -> Vec<f64> {
        let mut s = 0x9E37_79B9_7F4A_7C15_u64;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    #[test]
    fn tree_agrees_with_linear_scan() {
        let x = pseudo_random(900);
        for (dim, delay, theiler) in [(1, 1, 0), (2, 3, 5), (3, 7, 20), (5, 2, 1), (13, 1, 3)] {
            let search = NeighbourSearch {
                series: &x,
                dim,
                delay,
                count: x.len() - (dim - 1) * delay,
                theiler,
                min_distance_sq: 0.0,
            };
            let queries: Vec<usize> = (0..search.count).step_by(7).collect();
            let fast = search.nearest(&queries);
            for (&q, nb) in queries.iter().zip(&fast) {
                let nb = nb.expect("a neighbour exists");
                let mut slow = Vec::new();
                search.scan(q, 1, false, &mut slow);
                let slow = slow[0];
                assert!(q.abs_diff(nb.index) > theiler);
                assert!(
                    (nb.distance - slow.distance).abs() < 1e-12,
                    "dim {dim} q {q}"
                );
            }
        }
    }

    #[test]
    fn skips_duplicates_and_the_theiler_window() {
        // Period 10: every point has exact duplicates every 10 samples.
        let x: Vec<f64> = (0..400).map(|i| (i % 10) as f64).collect();
        let search = NeighbourSearch {
            series: &x,
            dim: 2,
            delay: 1,
            count: 399,
            theiler: 15,
            min_distance_sq: 1e-18,
        };
        let found = search.nearest(&[0, 200, 398]);
        for (q, nb) in [0usize, 200, 398].iter().zip(found) {
            let nb = nb.unwrap();
            assert!(q.abs_diff(nb.index) > 15);
            assert!(nb.distance > 0.0);
            // Nearest non-duplicate of (k, k+1) is (k±1, k+1±1): distance √2, or the wrap.
            assert!((nb.distance - 2f64.sqrt()).abs() < 1e-12, "{nb:?}");
        }
        // A window covering everything leaves no neighbour.
        let none = NeighbourSearch {
            theiler: 1000,
            ..search
        };
        assert_eq!(none.nearest(&[5]), vec![None]);
    }
}
