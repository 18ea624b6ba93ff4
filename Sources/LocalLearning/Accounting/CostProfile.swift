import Foundation

/// What one rule costs on one model: analytical MACs per sample and the engine's measured peak
/// training memory over a few steps on synthetic input (the figures do not depend on the data).
public struct CostProfile: Sendable, Codable {
    public var rule: String
    public var macs: MACBreakdown?
    public var memory: MemoryReport
    public var secondsPerStep: Double

    /// Builds `spec` fresh, runs `steps` training steps of `rule` at `batchSize` on uniform random
    /// input of per-sample shape `inputShape` with cycling labels, and reads the meters.
    /// `transientGradients` applies to unit-local rules only (others keep every gradient); of
    /// `options`, each rule takes those it declares.
    public static func measure(rule name: String, spec: String, inputShape: [Int], classes: Int, batchSize: Int,
                               steps: Int = 2, optimizer kind: OptimizerKind = .adam, seed: UInt64 = 1,
                               options: [String: String] = [:], transientGradients: Bool = false) throws -> CostProfile {
        guard let descriptor = RuleRegistry.descriptor(named: name) else {
            throw ModelError.invalidSpec(spec: name, reason: "unknown rule; expected one of \(RuleRegistry.help)")
        }
        let declared = options.filter { key, _ in descriptor.options.contains { $0.name == key } }
        let rule: LearningRule
        do { rule = try descriptor.make(seed: seed, options: declared) } catch {
            throw ModelError.invalidSpec(spec: name, reason: "\(error)")
        }
        try ModelSpec.footprint(spec, inputShape: inputShape, classes: classes).check(spec, batchSize: batchSize)
        let model = try ModelSpec.build(spec, inputShape: inputShape, classes: classes, seed: seed)
        try rule.checkCanTrain(model)
        model.transientGradients = transientGradients && rule is any UnitLocalRule
        let meter = MemoryMeter()
        model.memoryMeter = meter
        let optimizer = kind.make(learningRate: 1e-4, momentum: 0.9, nesterov: false, weightDecay: 0)
        var rng = SeededGenerator(seed: seed)
        let batch = Batch(images: Tensor.uniform([batchSize] + inputShape, bound: 1, using: &rng),
                          labels: (0..<batchSize).map { Int32($0 % classes) })
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<max(1, steps) { _ = rule.step(model: model, batch: batch, optimizer: optimizer) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return CostProfile(rule: name, macs: rule.macsPerSample(model),
                           memory: MemoryReport(meter: meter, model: model, optimizer: optimizer, rule: rule),
                           secondsPerStep: seconds / Double(max(1, steps)))
    }
}
