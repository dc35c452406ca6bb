import Foundation
import SageMakerBackend
import Testing
import TrainyardAWS
import TrainyardBackends
import TrainyardCore
import TrainyardTesting

/// The adapter alone against the emulator, as two workers with separate caches would use it:
/// the second `ensure` of one identity meets ResourceInUse and adopts the first job.
@Suite struct SageMakerAdoptionTests {
    func backend(_ emulator: SageMakerEmulator) -> SageMakerBackend {
        let credentials = AWSCredentialChain(environment: emulator.credentialEnvironment)
        let client = AWSJSONClient(
            configuration: AWSServiceConfiguration(
                endpoint: URL(string: emulator.info.endpoint)!, region: emulator.info.region, signingName: "sagemaker", targetPrefix: "SageMaker",
                jsonVersion: "1.1"),
            credentials: credentials, logger: TestEnvironment.logger("sm-adoption"))
        return SageMakerBackend(
            configuration: SageMakerBackendConfiguration(roleArn: "arn:aws:iam::123456789012:role/test", defaultOutputPath: "s3://b/out"),
            sagemaker: client, sqs: nil, logger: TestEnvironment.logger("sm-adoption"))
    }

    @Test func aSecondEnsureAdoptsTheJobInsteadOfCreatingAnother() async throws {
        let directory = try TestEnvironment.temporaryDirectory("sm-adoption")
        let emulator = try SageMakerEmulator(directory: directory)
        defer { emulator.stop() }
        let (first, second) = (backend(emulator), backend(emulator))
        let identity = BackendIdentity(jobID: JobID.generate(), attempt: 1, team: "vision")
        let spec = JobSpec(
            name: "adopt", team: "vision", kind: .training, image: "img:1", command: ["train"], labels: ["emulator.outcome": "hang"])

        #expect(try await first.existingAttempts(of: identity.jobID) == [])
        #expect(try await first.observe(identity) == .absent)
        _ = try await first.ensure(identity, spec: spec)
        let adopted = try await second.ensure(identity, spec: spec)
        #expect(adopted == .pending(reason: "SageMaker: InProgress / Starting") || { if case .running = adopted { true } else { false } }())
        #expect(try await second.existingAttempts(of: identity.jobID) == [1])
        let results = emulator.audit().filter { $0["name"] == identity.resourceName }.map { $0["result"] ?? "" }
        #expect(results == ["created", "ResourceInUse"])

        // No event queue here: observe answers from Describe on a miss, and stop reaches StopTrainingJob.
        try await second.stop(identity, reason: "test")
        let stopped = try await eventually(timeout: .seconds(120), every: .milliseconds(500)) {
            let fresh = backend(emulator)  // an empty cache: every observe is a Describe
            if case .finished(let outcome) = try await fresh.observe(identity) { return outcome.state == .cancelled }
            return false
        }
        #expect(stopped)
        try await second.stop(identity, reason: "again")  // stopping a stopped job does nothing
    }
}
