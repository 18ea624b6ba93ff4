import Foundation
import LocalLearning

/// Reads a `locallearn train --log` file back into a comparison row.
public enum RunLogReader {
    struct Summary: Decodable {
        var elapsedSeconds: Double
        var peakResidentBytes: Int
    }
    struct Confusion: Decodable {
        var matrix: [[Int]]
    }
    struct Angles: Decodable {
        var updateAngles: [UpdateAlignment.LayerAngle]
        var units: [UnitMonitor.Figures]?
    }

    public static func row(rule: String, recipe: RuleRecipe, path: String) throws -> ComparisonRow {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw RecipeError("cannot read the run log \(path)")
        }
        var row = ComparisonRow(rule: rule, status: .done, recipe: recipe)
        var epochs: [EpochReport] = []
        var angles: [[UpdateAlignment.LayerAngle]] = []
        var units: [[UnitMonitor.Figures]] = []
        for (number, line) in text.split(separator: "\n").enumerated() {
            let data = Data(line.utf8)
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let type = object["type"] as? String else {
                throw RecipeError("\(path):\(number + 1): not a JSON record")
            }
            do {
                switch type {
                case "epoch": epochs.append(try decoder.decode(EpochReport.self, from: data))
                case "memory": row.memory = try decoder.decode(MemoryReport.self, from: data)
                case "macs": row.macs = try decoder.decode(MACBreakdown.self, from: data)
                case "summary":
                    let summary = try decoder.decode(Summary.self, from: data)
                    row.wallSeconds = summary.elapsedSeconds
                    row.peakResidentBytes = summary.peakResidentBytes
                case "confusion": row.confusion = try decoder.decode(Confusion.self, from: data).matrix
                case "diagnostics":
                    let record = try decoder.decode(Angles.self, from: data)
                    angles.append(record.updateAngles)
                    if let figures = record.units { units.append(figures) }
                default: break
                }
            } catch {
                throw RecipeError("\(path):\(number + 1): cannot read the \(type) record: \(error)")
            }
        }
        row.testAccuracies = epochs.map(\.testAccuracy)
        row.validationAccuracies = epochs.map(\.validationAccuracy)
        row.finalTrainAccuracy = epochs.last?.trainAccuracy
        row.trainSeconds = epochs.reduce(0) { $0 + $1.trainSeconds }
        row.samplesPerSecond = epochs.isEmpty ? nil : epochs.reduce(0) { $0 + $1.samplesPerSecond } / Double(epochs.count)
        if let layers = angles.first?.map(\.layer) {
            row.updateAngles = layers.enumerated().map { index, layer in
                ComparisonRow.LayerSeries(layer: layer, degrees: angles.map { index < $0.count ? $0[index].degrees : nil })
            }
        }
        if let names = units.first?.map(\.name) {
            row.units = names.map { name in
                let series = units.map { epoch in epoch.first { $0.name == name } }
                return ComparisonRow.UnitSeries(unit: name, loss: series.map { $0?.loss }, accuracy: series.map { $0?.accuracy ?? nil })
            }
        }
        return row
    }
}
