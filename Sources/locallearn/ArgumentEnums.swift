import ArgumentParser
import LocalLearning

// Options with a fixed set of values: the parser refuses anything else and lists the accepted names.
extension DatasetName: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension Initializer: ExpressibleByArgument {}
extension NonFinitePolicy: ExpressibleByArgument {}
extension DirectFeedbackAlignment.Injection: ExpressibleByArgument {}
