//! Top-k motif pairs and discords from a matrix profile.
//!
//! Motifs, the classic top-k motif pairs (Yeh et al. 2016, §3.4; Mueen et al., "Exact
//! Discovery of Time Series Motifs", SDM 2009): windows are taken by increasing profile value,
//! ties by increasing position; window `i` and its nearest neighbour `I[i]` make a pair at
//! distance `P[i]`, which is kept unless `i` or `I[i]` lies in the exclusion zone (`|x − y| ≤
//! e`) of a member of a pair kept before; the k first kept are the motifs. A pair of mutual
//! nearest neighbours therefore appears once. This is what stumpy's `motifs` returns with
//! `max_matches=2` (the window and its nearest match), `max_distance` and `cutoff` infinite,
//! except that stumpy keeps a pair whose second member falls in an earlier pair's zone.
//!
//! Discords (Yeh et al. 2016, §3.4): windows by decreasing profile value, ties by increasing
//! position, each kept unless it lies in the exclusion zone of a discord kept before.

use serde::Serialize;

use super::MatrixProfileError;
use super::profile::{MatrixProfile, matrix_profile};
use crate::model::order;

/// Two windows that are each other's (or one the other's) nearest neighbour: a motif.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MotifPair {
    /// Start of the earlier window.
    pub a: usize,
    /// Start of the later window.
    pub b: usize,
    /// Their z-normalised Euclidean distance.
    pub distance: f64,
}

/// A window far from every other: a discord.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Discord {
    /// Start of the window.
    pub index: usize,
    /// Distance to its nearest non-trivial neighbour.
    pub distance: f64,
}

/// A series' matrix profile with its top motifs and discords.
#[derive(Debug, Clone, PartialEq)]
pub struct MotifDiscovery {
    pub profile: MatrixProfile,
    pub motifs: Vec<MotifPair>,
    pub discords: Vec<Discord>,
}

/// The matrix profile of `series` for windows of `window` samples, and its `top` motif pairs
/// and `top` discords (fewer when the exclusion zones leave fewer).
pub fn discover(
    series: &[f64],
    window: usize,
    top: usize,
) -> Result<MotifDiscovery, MatrixProfileError> {
    let profile = matrix_profile(series, window)?;
    Ok(MotifDiscovery {
        motifs: motifs(&profile, top),
        discords: discords(&profile, top),
        profile,
    })
}

/// Window positions ordered by profile value (ascending, or descending with `largest`), ties
/// by position.
fn ranked(profile: &MatrixProfile, largest: bool) -> Vec<usize> {
    let mut positions: Vec<usize> = (0..profile.len()).collect();
    order::sort_unstable_by(&mut positions, |&x, &y| {
        let by_value = profile.distance[x].total_cmp(&profile.distance[y]);
        (if largest {
            by_value.reverse()
        } else {
            by_value
        })
        .then(x.cmp(&y))
    });
    positions
}

/// The `k` best motif pairs of a profile (module documentation for the rule).
pub fn motifs(profile: &MatrixProfile, k: usize) -> Vec<MotifPair> {
    let mut pairs: Vec<MotifPair> = Vec::with_capacity(k);
    if k == 0 {
        return pairs;
    }
    for i in ranked(profile, false) {
        let j = profile.index[i];
        let excluded = pairs.iter().any(|p| {
            [p.a, p.b]
                .iter()
                .any(|&x| profile.is_trivial(x, i) || profile.is_trivial(x, j))
        });
        if excluded {
            continue;
        }
        pairs.push(MotifPair {
            a: i.min(j),
            b: i.max(j),
            distance: profile.distance[i],
        });
        if pairs.len() == k {
            break;
        }
    }
    pairs
}

/// The `k` largest profile values, each outside the exclusion zones of those before it.
pub fn discords(profile: &MatrixProfile, k: usize) -> Vec<Discord> {
    let mut found: Vec<Discord> = Vec::with_capacity(k);
    if k == 0 {
        return found;
    }
    for i in ranked(profile, true) {
        if found.iter().any(|d| profile.is_trivial(d.index, i)) {
            continue;
        }
        found.push(Discord {
            index: i,
            distance: profile.distance[i],
        });
        if found.len() == k {
            break;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(distance: Vec<f64>, index: Vec<usize>, window: usize) -> MatrixProfile {
        MatrixProfile {
            window,
            exclusion: super::super::exclusion_zone(window),
            distance,
            index,
        }
    }

    #[test]
    fn pairs_are_reported_once_and_later_ones_respect_earlier_zones() {
        // m = 4, zone ±1. Windows 0 and 6 are mutual neighbours at 0.1; window 7 (next to 6)
        // has 2 at 0.2 but lies in 6's zone; 3 and 10 at 0.3 make the second motif; every
        // other window or its neighbour is in a zone of 0, 3, 6 or 10, so there is no third.
        let p = profile(
            vec![0.1, 0.9, 0.5, 0.3, 0.8, 0.9, 0.1, 0.2, 0.7, 0.9, 0.3],
            vec![6, 8, 7, 10, 0, 1, 0, 2, 1, 4, 3],
            4,
        );
        assert_eq!(
            motifs(&p, 3),
            vec![
                MotifPair {
                    a: 0,
                    b: 6,
                    distance: 0.1
                },
                MotifPair {
                    a: 3,
                    b: 10,
                    distance: 0.3
                },
            ]
        );
        assert_eq!(motifs(&p, 1).len(), 1);
        // Discords: 1, 5, 9 (0.9, ties by position); 4 (0.8), 8 (0.7) and 2 (0.5) are in
        // their zones; then 3 (0.3).
        assert_eq!(
            discords(&p, 4).iter().map(|d| d.index).collect::<Vec<_>>(),
            vec![1, 5, 9, 3]
        );
        assert!(motifs(&p, 0).is_empty() && discords(&p, 0).is_empty());
    }

    #[test]
    fn a_pair_whose_partner_is_in_an_earlier_zone_is_skipped() {
        // Window 8 (0.2) is outside every zone, but its neighbour 1 is next to the first
        // motif's member 0; stumpy's `motifs` would report (8, 1), this rule goes on to 3.
        let p = profile(
            vec![0.1, 0.2, 0.9, 0.4, 0.9, 0.1, 0.9, 0.9, 0.2, 0.9],
            vec![5, 8, 8, 8, 0, 0, 1, 2, 1, 3],
            4,
        );
        assert_eq!(
            motifs(&p, 2),
            vec![
                MotifPair {
                    a: 0,
                    b: 5,
                    distance: 0.1
                },
                MotifPair {
                    a: 3,
                    b: 8,
                    distance: 0.4
                },
            ]
        );
    }
}
