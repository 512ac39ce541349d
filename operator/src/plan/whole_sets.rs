//! Finding whole sets to remove: a subset of the volume's sets whose bricks per zone add up
//! exactly to the nodes each zone gives up, newest sets preferred.

use std::collections::HashSet;

use super::error::zone_counts;

/// Upper bound on the whole-set search (states visited) before a scale-in is refused.
const SEARCH_LIMIT: usize = 1_000_000;

/// Whole sets (newest first) whose per-zone node counts add up to `need` exactly.
pub(super) fn find_whole_sets(hist: &[Vec<u32>], need: &[u32]) -> Option<Vec<usize>> {
    #[derive(Clone, Copy)]
    enum Stage {
        Enter,
        Included,
        Excluded,
    }
    let mut need = need.to_vec();
    let mut chosen: Vec<usize> = Vec::new();
    let mut failed: HashSet<(usize, Vec<u32>)> = HashSet::new();
    let mut stack: Vec<(usize, Stage)> = vec![(hist.len(), Stage::Enter)];
    let mut visited = 0usize;
    while let Some((i, stage)) = stack.pop() {
        visited += 1;
        if visited > SEARCH_LIMIT {
            return None;
        }
        match stage {
            Stage::Enter => {
                if need.iter().all(|&n| n == 0) {
                    chosen.sort_unstable();
                    return Some(chosen);
                }
                if i == 0 || failed.contains(&(i, need.clone())) {
                    continue;
                }
                let h = &hist[i - 1];
                if h.iter().zip(&need).all(|(a, b)| a <= b) {
                    for (n, a) in need.iter_mut().zip(h) {
                        *n -= a;
                    }
                    chosen.push(i - 1);
                    stack.push((i, Stage::Included));
                } else {
                    stack.push((i, Stage::Excluded));
                }
                stack.push((i - 1, Stage::Enter));
            }
            Stage::Included => {
                // Including set i-1 led nowhere: undo and try without it.
                chosen.pop();
                for (n, a) in need.iter_mut().zip(&hist[i - 1]) {
                    *n += a;
                }
                stack.push((i, Stage::Excluded));
                stack.push((i - 1, Stage::Enter));
            }
            Stage::Excluded => {
                failed.insert((i, need.clone()));
            }
        }
    }
    None
}

pub(super) fn describe_sets(
    sets: &[&[String]],
    hist: &[Vec<u32>],
    zone_names: &[String],
) -> String {
    sets.iter()
        .zip(hist)
        .enumerate()
        .map(|(i, (_, h))| {
            let zones = zone_counts(
                zone_names
                    .iter()
                    .zip(h)
                    .filter(|(_, n)| **n > 0)
                    .map(|(z, n)| (z.as_str(), *n)),
            );
            format!("set {}: {zones}", i + 1)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_sets_prefer_the_newest() {
        // Zones a, b; three sets each {a, b}.
        let hist = vec![vec![1, 1], vec![1, 1], vec![1, 1]];
        assert_eq!(find_whole_sets(&hist, &[1, 1]), Some(vec![2]));
        assert_eq!(find_whole_sets(&hist, &[2, 2]), Some(vec![1, 2]));
        assert_eq!(find_whole_sets(&hist, &[2, 1]), None);
    }

    #[test]
    fn whole_sets_search_backtracks() {
        // Greedy newest-first would take set 2 {a, c} and fail; the answer is sets 0 and 1.
        let hist = vec![vec![1, 1, 0], vec![0, 1, 1], vec![1, 0, 1]];
        assert_eq!(find_whole_sets(&hist, &[1, 2, 1]), Some(vec![0, 1]));
    }
}
