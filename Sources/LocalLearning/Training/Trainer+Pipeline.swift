import Foundation

extension Trainer {
    /// Stops handing batches to the pipeline (thrown inside `forEachBatch`).
    private struct StopFeeding: Error {}

    /// `run` with the rule's units pipelined over threads (`PipelinedTraining`). Batches, learning
    /// rates and per-step rule state are handed out in order on this thread; results come back in order.
    /// `stepDone` is called only where the pipeline has drained — at the end of each epoch and when
    /// `stopRequested` turns true — so the position it gets matches the weights exactly.
    func runPipelined(_ plan: StagePlan, from position: TrainingPosition, reports previous: [EpochReport],
                      progress: (Int, Int, Int, StepStatistics) -> Void, stepDone: (TrainingPosition) throws -> Void,
                      epochDone: (EpochReport) throws -> Void) throws -> [EpochReport] {
        guard let localRule = rule as? any UnitLocalRule else {
            throw PipelineError.notPipelinable("rule \(rule.name) has no unit-local learning signal to pipeline")
        }
        guard onNonFiniteLoss == .stop else {
            throw PipelineError.notPipelinable("--on-nan skip-batch cannot undo a step that later stages have already built on; use stop with --stages")
        }
        let steps = trainLoader.batchCount
        let start = DispatchTime.now().uptimeNanoseconds
        let elapsedBefore = previous.last?.elapsedSeconds ?? 0
        var reports = previous
        var best = previous.map(\.testAccuracy).max() ?? 0
        for epoch in position.epoch..<epochs {
            var reached = epoch == position.epoch ? position : TrainingPosition(epoch: epoch, step: 0)
            let secondsBefore = reached.trainSeconds
            let epochStart = DispatchTime.now().uptimeNanoseconds
            while reached.step < steps {
                let pipeline = makePipeline?(localRule, plan) ?? PipelinedTraining(rule: localRule, model: model, optimizer: optimizer, plan: plan,
                                                                                  threads: pipelineThreads)
                pipeline.start()
                var submitted = reached.step
                func consume(_ result: PipelineResult) throws {
                    try record(result.statistics, brokenBlock: result.brokenBlock, epoch: epoch, index: result.index, into: &reached)
                    progress(epoch + 1, result.index + 1, steps, result.statistics)
                }
                do {
                    defer { pipeline.finish() }
                    do {
                        try trainLoader.forEachBatch(epoch: epoch, from: reached.step) { index, batch in
                            optimizer.learningRate = schedule.rate(base: baseLearningRate, step: epoch * steps + index,
                                                                   totalSteps: epochs * steps, stepsPerEpoch: steps)
                            pipeline.submit(batch, index: index, learningRate: optimizer.learningRate)
                            submitted = index + 1
                            while let result = pipeline.pollResult() { try consume(result) }
                            if stopRequested() { throw StopFeeding() }
                        }
                    } catch is StopFeeding {}
                    while reached.step < submitted { try consume(pipeline.nextResult()) }
                }
                reached.trainSeconds = secondsBefore + Double(DispatchTime.now().uptimeNanoseconds - epochStart) / 1e9
                try stepDone(reached)
            }
            let report = evaluatedReport(epoch: epoch, position: reached, best: &best,
                                         elapsedSeconds: elapsedBefore + Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            reports.append(report)
            try epochDone(report)
        }
        return reports
    }
}
