import Foundation

/// A first-in-first-out queue between threads: `take` waits while no item is waiting. (The
/// pipeline bounds its batches in flight itself, so `put` never waits.)
final class BlockingQueue<Element>: @unchecked Sendable {
    private var items: [Element] = []
    private var head = 0
    private let condition = NSCondition()

    func put(_ item: Element) {
        condition.lock()
        defer { condition.unlock() }
        items.append(item)
        condition.broadcast()
    }

    func take() -> Element {
        condition.lock()
        defer { condition.unlock() }
        while items.count == head { condition.wait() }
        return removeFirst()
    }

    /// The next item if one is waiting, else nil at once.
    func poll() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        return items.count == head ? nil : removeFirst()
    }

    /// Call with the lock held and an item waiting.
    private func removeFirst() -> Element {
        let item = items[head]
        head += 1
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }
}
