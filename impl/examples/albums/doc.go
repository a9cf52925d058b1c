// Command albums is an example application in the paper's spirit (§3.2's
// photo-sharing schema): users with photo albums. Each user is an entity
// group (root table User); photos are a child table, so a user's photos
// live in the user's group and change atomically with the user's photo
// count. Two local indexes answer "a user's photos, newest first" (covering:
// it stores the caption) and "a user's photos with a tag" (a repeated-field
// index).
//
// Against a loopback cluster (`make cluster`, which writes run/cluster.json):
//
//	go run ./impl/examples/albums -config run/cluster.json adduser 7 ann
//	go run ./impl/examples/albums -config run/cluster.json addphoto 7 beach sea,sun "A day at the sea"
//	go run ./impl/examples/albums -config run/cluster.json photos 7
//	go run ./impl/examples/albums -config run/cluster.json tagged 7 sea
//	go run ./impl/examples/albums -config run/cluster.json check 7
//	go run ./impl/examples/albums -config run/cluster.json everywhere sun
//
// A third index, EveryPhotoByTag, is global: it spans users, lives in its
// own group and follows the committed-entry feed; addphoto syncs it right
// after its transaction (sync USER does it by hand), so `everywhere` may lag
// a write whose sync failed.
//
// -site picks the site to talk to (default: the first full site); -snapshot
// reads with a snapshot read instead of a current read.
package main
