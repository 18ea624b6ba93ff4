import Foundation

/// A first-in-first-out queue between threads: `put` waits while `capacity` items are waiting,
/// `take` waits while none is.
final class BlockingQueue<Element>: @unchecked Sendable {
    private var items: [Element] = []
    private var head = 0
    private let capacity: Int
    private let condition = NSCondition()

    init(capacity: Int = .max) {
        precondition(capacity >= 1, "a queue holds at least one item")
        self.capacity = capacity
    }

    func put(_ item: Element) {
        condition.lock()
        defer { condition.unlock() }
        while items.count - head >= capacity { condition.wait() }
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
        condition.broadcast()
        return item
    }
}
