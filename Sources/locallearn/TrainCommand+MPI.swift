import Foundation
import LocalLearning
import LocalLearningMPI

/// What this process does in a run started by `mpirun` with several ranks.
enum MPIRole {
    /// Not started by mpirun (or with one rank).
    case none
    /// `--data-parallel`: every rank trains on its share of each batch.
    case dataParallel(MPIWorld)
    /// `--stages N` with N ranks: this rank trains stage `rank`.
    case stages(MPIWorld)

    var world: MPIWorld? {
        switch self {
        case .none: nil
        case let .dataParallel(world), let .stages(world): world
        }
    }

    /// Only rank 0 prints, logs and writes checkpoints.
    var writesFiles: Bool { (world?.rank ?? 0) == 0 }

    /// Whether this process runs the training loop (every rank in data-parallel mode, rank 0 of stages).
    var runsTrainingLoop: Bool {
        if case let .stages(world) = self { return world.rank == 0 }
        return true
    }

    func trainedRule(_ rule: LearningRule) -> LearningRule {
        if case let .dataParallel(world) = self { return DataParallelRule(rule, world: world) }
        return rule
    }

    /// Data-parallel ranks must stop at the same step: any rank's interrupt stops them all.
    func agreeOnInterrupt(_ interrupted: Bool) -> Bool {
        guard case let .dataParallel(world) = self else { return interrupted }
        var flag: [Float] = [interrupted ? 1 : 0]
        world.allreduceSum(&flag)
        return flag[0] > 0
    }

    /// For stages over MPI: rank 0's pipeline; on the other ranks, serves its stage until training
    /// is over and returns nil.
    func stagePipeline(plan: StagePlan?, rule: LearningRule, model: Model, optimizer: Optimizer) throws -> MPIStagePipeline? {
        guard case let .stages(world) = self, let plan else { return nil }
        let local = rule as! any UnitLocalRule
        guard world.rank == 0 else {
            MPIStageWorker(world: world, rule: local, model: model, optimizer: optimizer, plan: plan).serve()
            return nil
        }
        return MPIStagePipeline(world: world, rule: local, model: model, optimizer: optimizer, plan: plan)
    }
}

extension TrainCommand {
    /// This process's role, checked against the options; silences standard output on ranks > 0.
    func mpiRole() throws -> MPIRole {
        guard MPIWorld.isLaunchedWithSeveralRanks else {
            if dataParallel { throw CommandError("--data-parallel needs several processes: run under mpirun -np N") }
            return .none
        }
        let world = MPIWorld.shared
        if world.rank > 0 {
            let null = open("/dev/null", O_WRONLY)
            if null >= 0 { dup2(null, STDOUT_FILENO) }
        }
        if dataParallel {
            guard stages == 1 else { throw CommandError("--data-parallel and --stages cannot be combined") }
            if let reason = RuleRegistry.make(rule)!.dataParallelRefusal { throw CommandError("--data-parallel: \(reason)") }
            return .dataParallel(world)
        }
        guard !perUnitStages else {
            throw CommandError("--per-unit-stages shares stages among threads of one process; over MPI every rank owns a fixed stage")
        }
        guard stages == world.size else {
            throw CommandError("started by mpirun with \(world.size) ranks: pass --data-parallel, or --stages \(world.size) for one stage per rank")
        }
        return .stages(world)
    }
}

extension TrainCommand {
    /// On rank k > 0 of MPI stages: restores the rank's own stage file, saved beside rank 0's checkpoint
    /// at the same position.
    static func restoreStage(of world: MPIWorld, beside checkpoint: (file: Safetensors.File, path: String), model: Model,
                             rule: LearningRule, optimizer: Optimizer) throws {
        let directory = URL(fileURLWithPath: checkpoint.path).deletingLastPathComponent().path
        let path = "\(directory)/\(MPIStageCheckpoint.fileName(rank: world.rank))"
        do {
            let main = try TrainingCheckpoint.contents(of: checkpoint.file, path: checkpoint.path)
            let contents = try TrainingCheckpoint.restore(Safetensors.read(path), path: path, model: model, rule: rule, optimizer: optimizer)
            guard contents.position == main.position else {
                throw CommandError("\(path) is from epoch \(contents.position.epoch + 1), step \(contents.position.step), but "
                                   + "\(checkpoint.path) from epoch \(main.position.epoch + 1), step \(main.position.step): not one save")
            }
        } catch let error as CheckpointError {
            throw CommandError(error.description)
        }
    }
}
