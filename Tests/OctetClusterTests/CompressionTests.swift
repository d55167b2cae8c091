import Testing
@testable import OctetCluster
