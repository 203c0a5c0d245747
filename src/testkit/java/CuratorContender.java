// A contender for the `peers` benchmark: Apache Curator's LeaderLatch with the publish step of
// Flink's classic ZooKeeperLeaderElectionService (before Flink 1.15), written for this benchmark.
//
//   java -cp CLASSPATH CuratorContender CONNECT LATCH_PATH LEADER_PATH ADDRESS
//
// Prints one line per event on stdout: `granted` when the latch makes it leader, `leader ADDRESS
// UUID` once the leader node holds its address and a fresh leader session ID, `revoked`, and
// `stopped` before it exits. A line `quit` on stdin (or its end) closes the latch and the client
// (which deletes its latch node and, with the session, its ephemeral leader node) and exits.

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.ObjectOutputStream;
import java.util.UUID;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

public final class CuratorContender implements LeaderLatchListener {
    private final CuratorFramework client;
    private final LeaderLatch latch;
    private final String leaderPath;
    private final String address;

    private CuratorContender(CuratorFramework client, String latchPath, String leaderPath, String address) {
        this.client = client;
        this.latch = new LeaderLatch(client, latchPath, address);
        this.leaderPath = leaderPath;
        this.address = address;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: CuratorContender CONNECT LATCH_PATH LEADER_PATH ADDRESS");
            System.exit(2);
        }
        // The same session timeout as zk-elect's default; Flink's default is 60 s, which only
        // matters when a leader crashes, not when it leaves cleanly.
        CuratorFramework client = CuratorFrameworkFactory.builder()
                .connectString(args[0])
                .sessionTimeoutMs(6000)
                .connectionTimeoutMs(6000)
                .retryPolicy(new ExponentialBackoffRetry(100, 3))
                .build();
        client.start();
        CuratorContender contender = new CuratorContender(client, args[1], args[2], args[3]);
        // Called on Curator's event thread, as Flink's listener was.
        contender.latch.addListener(contender);
        contender.latch.start();

        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = stdin.readLine()) != null && !line.trim().equals("quit")) {
            // Other lines mean nothing.
        }
        // Flink's close: the latch first (its node is deleted), then the client (the session,
        // and with it the ephemeral leader node).
        contender.latch.close();
        client.close();
        say("stopped");
        System.exit(0);
    }

    @Override
    public void isLeader() {
        say("granted");
        UUID leaderSession = UUID.randomUUID();
        try {
            if (publish(leaderSession)) {
                say("leader " + address + " " + leaderSession);
            }
        } catch (Exception e) {
            say("error " + e);
        }
    }

    @Override
    public void notLeader() {
        say("revoked");
    }

    /**
     * Flink's classic writeLeaderInformation: while we lead, make the leader node ours. A node
     * of another session (the previous leader's, whose session has not closed yet) is deleted
     * and the loop tries again; our own is overwritten; none is created (ephemeral).
     */
    private boolean publish(UUID leaderSession) throws Exception {
        byte[] data = leaderInformation(leaderSession);
        while (latch.hasLeadership()) {
            Stat stat = client.checkExists().forPath(leaderPath);
            if (stat == null) {
                try {
                    client.create().creatingParentsIfNeeded().withMode(CreateMode.EPHEMERAL).forPath(leaderPath, data);
                    return true;
                } catch (KeeperException.NodeExistsException raced) {
                    continue;
                }
            }
            long ourSession = client.getZookeeperClient().getZooKeeper().getSessionId();
            if (stat.getEphemeralOwner() == ourSession) {
                client.setData().forPath(leaderPath, data);
                return true;
            }
            try {
                client.delete().forPath(leaderPath);
            } catch (KeeperException.NoNodeException gone) {
                // Deleted by its owner's session closing: create it on the next turn.
            }
        }
        return false;
    }

    /** Flink's encoding: the address, then the leader session ID, Java-serialized. */
    private byte[] leaderInformation(UUID leaderSession) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeUTF(address);
            out.writeObject(leaderSession);
        }
        return bytes.toByteArray();
    }

    private static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }
}
