import ArgumentParser
import LocalLearning

extension ModelSpec {
    /// The model-size check every command's `validate()` makes before anything is built: the
    /// library's refusal (too large for this machine, too many layers, a malformed spec) as a usage error.
    static func validateFits(_ spec: String, inputShape: [Int], classes: Int, batchSize: Int, context: String = "") throws {
        do {
            try footprint(spec, inputShape: inputShape, classes: classes).check(spec, batchSize: batchSize)
        } catch let error as ModelError {
            throw ValidationError(context + error.description)
        }
    }
}
