/// A dataset restricted to some of its classes, relabelled 0…k−1 in the order given — for the
/// generalisation-versus-number-of-classes studies ("Implicit Regularization in Feedback Alignment").
extension Dataset {
    /// The samples whose label is in `kept`; label `kept[i]` becomes `i`. `kept` must hold distinct
    /// labels in 0..<classes.
    public func keepingClasses(_ kept: [Int]) -> Dataset {
        precondition(!kept.isEmpty && Set(kept).count == kept.count && kept.allSatisfy { (0..<classes).contains($0) },
                     "class subset \(kept) is not distinct labels in 0..<\(classes)")
        var newLabel = [Int32](repeating: -1, count: classes)
        for (index, label) in kept.enumerated() { newLabel[label] = Int32(index) }
        let indices = labels.indices.filter { newLabel[Int(labels[$0])] >= 0 }
        var subset = subset(indices)
        subset.labels = subset.labels.map { newLabel[Int($0)] }
        subset.classes = kept.count
        return subset
    }
}

/// `--classes`: the classes a run keeps, as the first K or an explicit list.
public enum ClassSelection: Sendable, Equatable {
    case first(Int)
    case list([Int])

    /// Parses "K" (the first K classes) or "a,b,…" (those labels, in that order; at least two).
    public init?(parsing text: String) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingSpaces()) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        let values = parts.compactMap { $0 }
        if values.count == 1 {
            guard values[0] >= 2 else { return nil }
            self = .first(values[0])
        } else {
            guard Set(values).count == values.count, values.allSatisfy({ $0 >= 0 }) else { return nil }
            self = .list(values)
        }
    }

    /// The kept labels for a dataset of `classes` classes, or a reason they do not fit.
    public func labels(outOf classes: Int) -> Result<[Int], ClassSelectionError> {
        switch self {
        case let .first(k):
            guard k <= classes else { return .failure(ClassSelectionError(description: "--classes \(k): the dataset has \(classes) classes")) }
            return .success(Array(0..<k))
        case let .list(values):
            guard let bad = values.first(where: { $0 >= classes }) else { return .success(values) }
            return .failure(ClassSelectionError(description: "--classes \(description): label \(bad) is not below the dataset's \(classes) classes"))
        }
    }

    public var description: String {
        switch self {
        case let .first(k): "\(k)"
        case let .list(values): values.map(String.init).joined(separator: ",")
        }
    }
}

/// Why a class selection does not fit a dataset.
public struct ClassSelectionError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
