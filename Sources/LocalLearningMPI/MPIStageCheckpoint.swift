import Foundation
import LocalLearning

/// Checkpoints of MPI stages: rank 0 writes the usual `checkpoint.safetensors` (the whole model, which
/// every rank holds after a stretch, its own stage's optimizer and rule state, the position, reports
/// and configuration); every other rank k writes its own process's state to `stage-<k+1>.safetensors`
/// in the same folder, so each rank owns and restores the state of the stage it trains. A resume
/// needs the same number of ranks.
public enum MPIStageCheckpoint {
    /// The file rank `rank` writes (rank 0: the ordinary checkpoint file).
    public static func fileName(rank: Int) -> String {
        rank == 0 ? TrainingCheckpoint.fileName : "stage-\(rank + 1).safetensors"
    }

    static func request(directory: String, position: TrainingPosition) -> [UInt8] {
        var writer = ByteWriter()
        writer.text(directory)
        writer.text(String(decoding: try! JSONEncoder().encode(position), as: UTF8.self))
        return writer.bytes
    }

    /// Saves this rank's stage as `request` asks; returns nil, or why it failed.
    static func save(_ request: [UInt8], context: MPIStageContext) -> String? {
        var reader = ByteReader(request)
        guard let directory = reader.text(), let json = reader.text(),
              let position = try? JSONDecoder().decode(TrainingPosition.self, from: Data(json.utf8)) else {
            return "rank \(context.world.rank): unreadable checkpoint request"
        }
        do {
            try TrainingCheckpoint.save(to: directory, name: fileName(rank: context.world.rank), model: context.model,
                                        rule: context.rule, optimizer: context.optimizer, position: position, reports: [],
                                        configuration: "{}")
            return nil
        } catch {
            return "rank \(context.world.rank): \(error)"
        }
    }
}

extension MPIStagePipeline {
    /// Has ranks 1… save their stages beside rank 0's checkpoint (call on rank 0 after it saved its
    /// own, at the end of a stretch); throws when a rank could not.
    public func saveStages(to directory: String, position: TrainingPosition) throws {
        let world = context.world
        world.send(MPIStageCheckpoint.request(directory: directory, position: position), to: 1, tag: StageTag.checkpoint.rawValue)
        let failures = (1..<world.size).compactMap { rank in
            var answer = ByteReader(world.receive(from: rank, tag: StageTag.saved.rawValue).bytes)
            return answer.text()
        }
        guard failures.isEmpty else {
            throw CheckpointError.writeFailed(path: directory, reason: failures.joined(separator: "; "))
        }
    }
}
