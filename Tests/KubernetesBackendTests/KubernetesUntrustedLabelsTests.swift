import Foundation
import Logging
import Testing
import TrainyardBackends
import TrainyardCore
import TrainyardKubernetes
import TrainyardTesting

@testable import KubernetesBackend

/// Labels on Jobs in the namespace are written by whoever can create Jobs there: an attempt
/// number read back from them is untrusted input, never a precondition's argument.
@Suite("Kubernetes backend: untrusted labels", .serialized)
struct KubernetesUntrustedLabelsTests {
    let logger = TestEnvironment.logger("kubernetes-tests")

    @Test("Jobs labelled with this job id but attempt 0, negative, huge or garbage (or named otherwise) are not attempts of it")
    func forgedAttemptLabels() async throws {
        let standIn = try KubeAPIServerStandIn()
        let connection = try KubernetesConnectionLoader.kubeconfig(path: try standIn.writeKubeconfig(namespace: "ml"))
        let client = try KubernetesClient(connection: connection, logger: logger)
        let configuration = KubernetesBackendConfiguration(namespace: "ml", relistInterval: .seconds(300), watchTimeoutSeconds: 20)
        let backend = KubernetesBackend(configuration: configuration, client: client, logger: logger)
        let jobID = JobID.generate()
        let spec = JobSpec(name: "forged", team: "tests", image: "busybox:1.36", command: ["true"], maxRuntimeSeconds: 60)
        let genuine = BackendIdentity(jobID: jobID, attempt: 2, team: "tests")
        _ = try await backend.ensure(genuine, spec: spec)
        // Copies of the genuine Job under other names, with the attempt label rewritten.
        let template = try KubernetesJobMapper.job(for: genuine, spec: spec, configuration: configuration)
        for (index, label) in ["0", "-1", "99999999999999999999", "1e3", "", "2 ", "３"].enumerated() {
            var forged = template
            forged.metadata.name = "forged-\(index)"
            forged.metadata.labels?["trainyard.io/attempt"] = label
            _ = try await client.createJob(forged, namespace: "ml")
        }
        // The right label on a name that is not this scheme's.
        var renamed = template
        renamed.metadata.name = "ty-\(jobID.rawValue)-a7-x"
        renamed.metadata.labels?["trainyard.io/attempt"] = "7"
        _ = try await client.createJob(renamed, namespace: "ml")
        #expect(try await backend.existingAttempts(of: jobID) == [2])
        try await client.shutdown()
    }
}
