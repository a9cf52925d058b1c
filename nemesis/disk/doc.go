// Package disk loses a node's unsynced writes on purpose: it is a FUSE
// filesystem mounted on the host over a node's data directory (and
// bind-mounted into the node's container at /data) whose PowerLoss drops
// every write not yet fsynced, and which truncates or bit-flips a file on
// request.
//
// Why: a SIGKILLed container's writes survive in the host's page cache, so
// a node that acknowledges before it fsyncs looks correct after a kill.
// Through this layer the restarted node sees only what it synced.
//
// # Durability model
//
//   - The backing files always hold the current content. Per file (per
//     backing inode), the layer keeps an undo log since the file's last
//     fsync or fdatasync: the file's size at that sync, and the synced
//     bytes each later write or truncation replaced (each byte saved once,
//     the first time it changes). fsync and fdatasync make the whole file,
//     content and size, durable and drop its undo log, so memory is bounded
//     by the bytes overwritten between two syncs of a file (appends past
//     the synced size cost nothing).
//   - PowerLoss sets every file back to its size at its last sync and
//     writes the saved bytes back: each file is exactly as it was at its
//     last sync. A file never synced since the mount (or since it was
//     created) goes back to its size and content at mount or creation.
//   - Namespace operations (create, rename, unlink, mkdir, rmdir, link)
//     are durable at once, as if every directory were synced after each:
//     weaker than a real disk, where a new name needs an fsync of its
//     directory. So a file created and never synced survives a power loss,
//     empty; a rename survives even if the directory was not synced. What
//     the layer does catch is the failure the suite is after: data
//     acknowledged before its fsync (the WAL record a commit waits for), in
//     a file whose name is already durable. Undoing namespace operations
//     soundly needs a journal of trash copies ordered across directories;
//     it is left for later.
//   - Truncate and FlipBit change a file as media damage would; the change
//     is durable (a later PowerLoss keeps it). Pebble's checksums are
//     expected to turn a flipped bit into a clear corruption error.
//
// Every open file handle belongs to an epoch; PowerLoss starts a new one,
// and a handle from an earlier epoch fails with EIO. PowerLoss takes the
// layer's lock exclusively, so it waits for operations in flight and holds
// new ones until the revert is done. Call it while the node's processes
// are dead (the container killed and waited for): a late write from a dead
// process then fails instead of landing on the reverted state.
//
// The kernel caches nothing: every open is direct I/O and entry, attribute
// and negative lookups time out at once, so the next process sees what the
// layer holds. The mount allows other users, so a container's processes
// reach it through a Docker bind mount. Locks are the kernel's own (local
// to this host), which is all Pebble's LOCK file needs. O_TMPFILE and
// fallocate are refused (Pebble ignores a failed preallocation).
//
// # Usage loop
//
//	f, err := disk.Mount(backing, mountpoint, disk.Options{})
//	defer f.Unmount()
//	// ... run the node with mountpoint as its data directory ...
//	// kill it and wait until it is dead, then
//	loss, err := f.PowerLoss()
//	// restart it: it sees only what it synced
//
// PowerLossFault is the nemesis kind "disk": it SIGKILLs one site or a
// minority, waits until their containers are dead, calls PowerLoss on
// their layers, and Heal starts them again. CorruptFault ("disk-corrupt",
// not in the default mix) does the same to one site and then flips a bit
// in or cuts one of its sstables. Only sstables: Pebble checks their block
// checksums and sizes and fails Load with a corruption error, while a
// damaged WAL or MANIFEST reads to it as the torn tail of a crash and
// silently loses synced data (a cut MANIFEST did exactly that in a test),
// which would be the disk's fault, not the protocol's.
package disk
