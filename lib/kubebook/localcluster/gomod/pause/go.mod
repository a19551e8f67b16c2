// The sandbox ("pause") process of the real node's pods, built static so an image of one file runs it.
module kubebook.local/build/pause

go 1.26.0
