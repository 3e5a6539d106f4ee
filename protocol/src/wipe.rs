//! Containers of secrets that never leave unwiped copies in memory.
//!
//! A `Vec` that reallocates by itself, or whose elements are shifted by
//! `remove` or `retain`, leaves bit copies of its elements in the old buffer
//! or in the vacated slots; those bytes are freed or reused without being
//! wiped. These helpers grow by cloning into a new buffer and dropping the
//! old one in place (each element's `Drop` wipes it), and remove an element
//! by dropping it where it lies and permuting the rest in place.

/// Makes room for `additional` more elements without an implicit
/// reallocation: when the capacity is short, the elements are cloned into a
/// new buffer and the old buffer is dropped element by element.
pub(crate) fn reserve_wiping<T: Clone>(items: &mut Vec<T>, additional: usize) {
    let needed = items.len() + additional;
    if items.capacity() >= needed {
        return;
    }
    let mut grown = Vec::with_capacity(needed.max(items.capacity() * 2));
    grown.extend(items.iter().cloned());
    // Dropping the old vector drops (wipes) each element where it lies.
    *items = grown;
}

/// Appends `item` without an implicit reallocation.
pub(crate) fn push_wiping<T: Clone>(items: &mut Vec<T>, item: T) {
    reserve_wiping(items, 1);
    items.push(item);
}

/// Removes the element at `index`, keeping the order of the others: the
/// element is dropped in place (replaced by `filler`, a value holding no
/// secret), the tail is rotated in place, and the filler is dropped.
pub(crate) fn remove_wiping<T>(items: &mut Vec<T>, index: usize, filler: T) {
    if index >= items.len() {
        return;
    }
    items[index] = filler;
    items[index..].rotate_left(1);
    items.truncate(items.len() - 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_remove_and_reserve_keep_order_and_contents() {
        let mut items = Vec::with_capacity(1);
        for i in 0..10u32 {
            push_wiping(&mut items, i);
        }
        assert_eq!(items, (0..10).collect::<Vec<_>>());
        remove_wiping(&mut items, 3, 0);
        assert_eq!(items, vec![0, 1, 2, 4, 5, 6, 7, 8, 9]);
        remove_wiping(&mut items, 99, 0);
        assert_eq!(items.len(), 9);
        reserve_wiping(&mut items, 100);
        assert!(items.capacity() >= 109);
        assert_eq!(items, vec![0, 1, 2, 4, 5, 6, 7, 8, 9]);
    }
}
