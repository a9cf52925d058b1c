module github.com/megastore-verified/megastore

go 1.26
