"""depthcheck.validation: claims from the source papers judged against simulation."""
