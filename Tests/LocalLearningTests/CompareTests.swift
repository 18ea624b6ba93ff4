import Foundation
import Testing
@testable import LocalLearning
@testable import LocalLearningTools

@Suite("Comparison: recipes, tables, report, run logs")
struct CompareTests {
    @Test func recipesHaveDefaultsAndOverrides() throws {
        #expect(RuleRecipe.defaults(for: "bp") == RuleRecipe(optimizer: .adam, learningRate: 1e-3))
        #expect(RuleRecipe.defaults(for: "lls-mxm") == RuleRecipe(optimizer: .adamw, learningRate: 5e-3))
        let overrides = try ["all.lr=0.01", "lls.lr=5e-4", "fa.optimizer=sgd"].map(RuleRecipe.Override.init(parsing:))
        #expect(try RuleRecipe.resolve("lls", overrides: overrides).learningRate == 5e-4)
        #expect(try RuleRecipe.resolve("bp", overrides: overrides).learningRate == 0.01)
        #expect(try RuleRecipe.resolve("fa", overrides: overrides).optimizer == .sgd)
        for bad in ["lls.lr", "nosuch.lr=1", "lls.speed=2", "lls.lr=fast", "lls.optimizer=rmsprop", "lls.lr=-1"] {
            #expect(throws: RecipeError.self, "\(bad)") { try RuleRecipe.Override(parsing: bad) }
        }
    }

    static func sampleRows() -> [ComparisonRow] {
        var done = ComparisonRow(rule: "bp", status: .done, recipe: .defaults(for: "bp"))
        done.testAccuracies = [0.5, 0.75, 0.7]
        done.validationAccuracies = [0.55, 0.7, 0.72]   // best validation at epoch 3: test 70%, not the best test (75%, epoch 2)
        done.finalTrainAccuracy = 0.8
        done.trainSeconds = 12.5
        done.macs = MACBreakdown(forward: 79_400, signal: 1_000, update: 79_400)
        done.memory = MemoryReport(parameterBytes: 100, gradientBytes: 100, optimizerBytes: 200, ruleStateBytes: 0, peakActivationBytes: 2_097_152)
        done.updateAngles = [.init(layer: "fc1.Linear(4→3)", degrees: [10, nil, 30])]
        let skipped = ComparisonRow(rule: "lls", status: .notApplicable(reason: "no hidden <block>"), recipe: .defaults(for: "lls"))
        return [done, skipped]
    }

    @Test func tablesShowFiguresAndSayWhyARuleWasSkipped() {
        let markdown = ComparisonTable.markdown(Self.sampleRows())
        let lines = markdown.split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[2].contains("| bp | adam 0.001 | 70.00% (3) | 70.00% | 75.00% (2) | 80.00% | 12.5 s |"))
        #expect(lines[2].contains("2.0 MiB") && lines[2].contains("79.4k / 1.0k / 79.4k"))
        #expect(lines[3].contains("not applicable: no hidden <block>"))
        let csv = ComparisonTable.csv(Self.sampleRows()).split(separator: "\n")
        #expect(csv.count == 3)
        #expect(csv[1].hasPrefix("bp,done,adam,0.001,0.7,0.75,2,0.8,12.5,") && csv[1].hasSuffix(",0.7,3,"))
        #expect(csv[2].hasPrefix("lls,not applicable: no hidden <block>,adamw,0.005,"))
    }

    @Test func chartsAreSelfContainedSVG() {
        let svg = SVGChart.lines(title: "a <b>", series: [("x", [1, 2, nil, 4, 5]), ("y", [3])], xLabel: "epoch", yLabel: "%")
        // The gap splits "x" into two polylines; the single point of "y" is a circle.
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 2)
        #expect(svg.contains("<circle"))
        #expect(svg.contains("a &lt;b&gt;") && !svg.contains("a <b>"))
        let html = HTMLReport.render(title: "t", subtitle: "s", rows: Self.sampleRows())
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(!html.contains("<script"))
        // No network: the only URI is the SVG namespace.
        #expect(html.components(separatedBy: "http").count == html.components(separatedBy: "http://www.w3.org/2000/svg").count)
        #expect(html.contains("Test accuracy per epoch") && html.contains("bp: angle between update and backprop gradient"))
        #expect(html.contains("colspan") && html.contains("no hidden &lt;block&gt;"))
    }

    @Test func everyLineOfAManyRuleChartLooksDifferent() {
        let series = (0..<16).map { ("rule\($0)", [Double?](arrayLiteral: 1, 2)) }
        let svg = SVGChart.lines(title: "t", series: series, xLabel: "x", yLabel: "y")
        let styles = svg.split(separator: "\n").filter { $0.hasPrefix("<polyline") }.map { line -> String in
            let colour = line.components(separatedBy: "stroke=\"")[1].prefix(7)
            return colour + (line.contains("dasharray") ? " dashed" : "")
        }
        #expect(styles.count == 16 && Set(styles).count == 16, "\(styles)")
    }

    @Test func ticksAreRoundAndCoverTheRange() {
        #expect(SVGChart.ticks(0, 100) == [0, 20, 40, 60, 80, 100])
        #expect(SVGChart.ticks(87.3, 91.2).allSatisfy { $0 >= 87.3 && $0 <= 91.2 })
    }

    @Test func rowsOverSeedsGiveMeanAndSpread() {
        func run(_ tests: [Double], _ validations: [Double], seconds: Double) -> ComparisonRow {
            var row = ComparisonRow(rule: "bp", status: .done, recipe: .defaults(for: "bp"))
            (row.testAccuracies, row.validationAccuracies, row.finalTrainAccuracy, row.trainSeconds) = (tests, validations, 0.9, seconds)
            return row
        }
        // Seed 1: best validation at epoch 2 (test 0.7); seed 2: at epoch 1 (test 0.5).
        let combined = ComparisonRow.combining([run([0.6, 0.7], [0.5, 0.6], seconds: 10), run([0.5, 0.9], [0.8, 0.4], seconds: 20)], seeds: [1, 2])
        #expect(combined.seedFigures?.atBestValidation == [0.7, 0.5] && combined.seedFigures?.finalTest == [0.7, 0.9])
        #expect(zip(combined.testAccuracies, [0.55, 0.8]).allSatisfy { abs($0 - $1) < 1e-12 } && combined.trainSeconds == 15)
        // The curve's band: ± one standard deviation over the seeds at each epoch (0.0707 and 0.1414).
        #expect(zip(combined.testAccuracyDeviations ?? [], [0.1 / 2.0.squareRoot(), 0.2 / 2.0.squareRoot()]).allSatisfy { abs($0 - $1) < 1e-9 })
        let report = HTMLReport.render(title: "t", subtitle: "s", rows: [combined])
        #expect(report.contains("<polygon") && report.contains("band: ± one standard deviation"))
        #expect(!HTMLReport.render(title: "t", subtitle: "s", rows: [run([0.6, 0.7], [0.5, 0.6], seconds: 1)]).contains("<polygon"))
        #expect(ComparisonRow.spread([0.7, 0.5]) == "60.00 ± 14.14%")
        #expect(ComparisonTable.markdown([combined]).contains("| bp | adam 0.001 | 60.00 ± 14.14% | 80.00 ± 14.14% | 80.00 ± 14.14% | 90.00 ± 0.00% | 15.0 s |"))
        let failing = ComparisonRow(rule: "bp", status: .failed(message: "NaN"), recipe: nil)
        #expect(ComparisonRow.combining([run([0.6], [0.5], seconds: 1), failing], seeds: [1, 2]).status == .failed(message: "seed 2: NaN"))
    }

    @Test func runLogReadsBackIntoARow() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("compare-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = try RunLog(path: path)
        try log.write(type: "macs", MACBreakdown(forward: 10, signal: 2, update: 10))
        for (epoch, accuracy) in [(1, 0.6), (2, 0.8)] {
            try log.write(type: "epoch", EpochReport(epoch: epoch, trainLoss: 1, trainAccuracy: accuracy - 0.1, testLoss: 1,
                                                    testAccuracy: accuracy, bestTestAccuracy: accuracy, learningRate: 1e-3,
                                                    trainSeconds: 2, samplesPerSecond: 100, elapsedSeconds: Double(epoch) * 2.5))
            struct Diagnostics: Encodable { var epoch: Int; var updateAngles: [UpdateAlignment.LayerAngle]; var units: [UnitMonitor.Figures] }
            let units = [UnitMonitor.Figures(block: 0, name: "fc1", loss: 1.5 / Double(epoch), accuracy: accuracy - 0.2, samples: 64)]
            try log.write(type: "diagnostics", Diagnostics(epoch: epoch, updateAngles: [.init(layer: "fc1", degrees: Double(epoch) * 10)],
                                                           units: units))
        }
        try log.write(type: "memory", MemoryReport(parameterBytes: 4, gradientBytes: 4, optimizerBytes: 8, ruleStateBytes: 0, peakActivationBytes: 64))
        struct Summary: Encodable { var elapsedSeconds: Double; var peakResidentBytes: Int }
        try log.write(type: "summary", Summary(elapsedSeconds: 5, peakResidentBytes: 1 << 20))
        let row = try RunLogReader.row(rule: "fa", recipe: .defaults(for: "fa"), path: path)
        #expect(row.testAccuracies == [0.6, 0.8])
        #expect(row.trainSeconds == 4 && row.samplesPerSecond == 100 && row.wallSeconds == 5)
        #expect(row.memory?.totalBytes == 80 && row.peakResidentBytes == 1 << 20)
        #expect(row.macs == MACBreakdown(forward: 10, signal: 2, update: 10))
        #expect(row.updateAngles == [.init(layer: "fc1", degrees: [10, 20])])
        #expect(row.units.map(\.unit) == ["fc1"] && row.units[0].loss == [1.5, 0.75])
        #expect(zip(row.units[0].accuracy, [0.4, 0.6]).allSatisfy { abs($0! - $1) < 1e-12 })
        #expect(ComparisonTable.unitsMarkdown([row]).contains("| fa | fc1 0.750 / 60.0% |"))
        #expect(HTMLReport.render(title: "t", subtitle: "s", rows: [row]).contains("fa: each unit&#39;s own head") ||
                HTMLReport.render(title: "t", subtitle: "s", rows: [row]).contains("fa: each unit's own head"))
    }
}
