//! The event queue: virtual time that jumps from one deadline to the next.
//!
//! Events are ordered by (time, sequence): two events at the same millisecond run in the order
//! they were scheduled, so a run is a pure function of its seed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A queue of events of type `E` over virtual milliseconds.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<(u64, u64, Slot)>>,
    events: Vec<Option<E>>,
    free: Vec<Slot>,
    sequence: u64,
    now: u64,
}

type Slot = usize;

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), events: Vec::new(), free: Vec::new(), sequence: 0, now: 0 }
    }
}

impl<E> EventQueue<E> {
    /// The current virtual time in ms: the time of the last event popped.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Schedules `event` at `at` (clamped to now: the past cannot be scheduled).
    pub fn schedule(&mut self, at: u64, event: E) {
        let at = at.max(self.now);
        let slot = match self.free.pop() {
            Some(slot) => {
                self.events[slot] = Some(event);
                slot
            }
            None => {
                self.events.push(Some(event));
                self.events.len() - 1
            }
        };
        self.sequence += 1;
        self.heap.push(Reverse((at, self.sequence, slot)));
    }

    /// Pops the earliest event and advances the clock to its time.
    pub fn pop(&mut self) -> Option<(u64, E)> {
        let Reverse((at, _, slot)) = self.heap.pop()?;
        assert!(at >= self.now, "time went backwards");
        self.now = at;
        let event = self.events[slot].take().expect("a scheduled slot holds its event");
        self.free.push(slot);
        Some((at, event))
    }

    /// The time of the earliest event, if any.
    pub fn peek_time(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Number of scheduled events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_by_scheduling_order() {
        let mut queue = EventQueue::default();
        queue.schedule(20, "c");
        queue.schedule(10, "a");
        queue.schedule(10, "b");
        assert_eq!(queue.pop(), Some((10, "a")));
        assert_eq!(queue.pop(), Some((10, "b")));
        queue.schedule(5, "past is clamped to now");
        assert_eq!(queue.pop(), Some((10, "past is clamped to now")));
        assert_eq!(queue.pop(), Some((20, "c")));
        assert_eq!(queue.now(), 20);
        assert_eq!(queue.pop(), None);
    }
}
