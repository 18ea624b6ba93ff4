import LocalLearning

/// A rule's runs over several seeds, summarised: the accuracies as mean ± sample standard deviation,
/// the curves as their mean, costs as the mean (or the first run's, for figures seeds do not change).
extension ComparisonRow {
    /// Per-seed accuracies behind a combined row.
    public struct SeedFigures: Sendable, Codable, Equatable {
        public var seeds: [UInt64]
        public var atBestValidation: [Double]
        public var finalTest: [Double]
        public var bestTest: [Double]
        public var finalTrain: [Double]
    }

    /// The rows of one rule's runs, one per seed, as one row; a failed run makes the row failed.
    public static func combining(_ runs: [ComparisonRow], seeds: [UInt64]) -> ComparisonRow {
        guard let first = runs.first else { preconditionFailure("no runs to combine") }
        if let failed = zip(runs, seeds).first(where: { $0.0.status != .done }) {
            var row = failed.0
            if case let .failed(message) = failed.0.status { row.status = .failed(message: "seed \(failed.1): \(message)") }
            return row
        }
        var row = first
        let epochs = runs.map(\.testAccuracies.count).min() ?? 0
        func meanCurve(_ curve: (ComparisonRow) -> [Double?]) -> [Double?] {
            (0..<epochs).map { e in
                let values = runs.compactMap { run in curve(run).count > e ? curve(run)[e] : nil }
                return values.count == runs.count ? values.reduce(0, +) / Double(values.count) : nil
            }
        }
        row.testAccuracies = meanCurve { $0.testAccuracies.map(Optional.init) }.compactMap { $0 }
        row.testAccuracyDeviations = (0..<epochs).map { e in Spread(runs.map { $0.testAccuracies[e] })?.deviation ?? 0 }
        row.validationAccuracies = meanCurve(\.validationAccuracies)
        row.trainSeconds = mean(runs.compactMap(\.trainSeconds))
        row.wallSeconds = mean(runs.compactMap(\.wallSeconds))
        row.samplesPerSecond = mean(runs.compactMap(\.samplesPerSecond))
        row.peakResidentBytes = runs.compactMap(\.peakResidentBytes).max()
        row.seedFigures = SeedFigures(seeds: seeds, atBestValidation: runs.compactMap(\.testAccuracyAtBestValidation),
                                      finalTest: runs.compactMap(\.finalTestAccuracy), bestTest: runs.compactMap(\.bestTestAccuracy),
                                      finalTrain: runs.compactMap(\.finalTrainAccuracy))
        return row
    }

    static func mean(_ values: [Double]) -> Double? { Spread(values)?.mean }

    /// "m ± s%" of accuracies (fractions); "–" when empty.
    public static func spread(_ values: [Double]) -> String {
        guard let s = Spread(values) else { return "–" }
        return String(format: "%.2f ± %.2f%%", s.mean * 100, s.deviation * 100)
    }
}
